"""A preset compared with the original it reproduces: its record, the original's stored inventory (or a
file the caller holds, e.g. a newer original), and its own Dockerfile as rendered, read back."""

from __future__ import annotations

from dockyard.errors import InputError
from dockyard.knowledge.fidelity import Record, load_record
from dockyard.knowledge.loader import Knowledge, preset_dir, preset_names
from dockyard.lint.parser import parse
from dockyard.readback.compare import Comparison, compare
from dockyard.readback.inventory import Inventory
from dockyard.readback.originals import load_original
from dockyard.readback.reader import read
from dockyard.render.renderer import render
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load


def preset_record(name: str) -> Record:
    if name not in preset_names():
        load(name)  # the "did you mean" of an unknown preset
        raise InputError(f"{name!r} is a spec file, not a preset", "fidelity compares a preset with its original")
    record = load_record(preset_dir() / f"{name}.toml")
    if record is None:
        raise InputError(f"preset {name} reproduces no original (it has no [fidelity] record)",
                         "dockyard presets lists the presets; those that reproduce an image say so")
    return record


def image_inventory(plan: Plan) -> Inventory:
    """The preset's image as rendered, read back (build-context files such as requirements.txt included)."""
    rendered = render(plan)
    return read(parse(rendered.dockerfile, f"{plan.name} (rendered)"), rendered.files.get)


def extra_requirements(plan: Plan) -> dict[str, list[str]]:
    """transformers' extra -> what it installs, for the plan's transformers line, where knowledge knows."""
    version = plan.transformers.version
    if version is None:
        return {}
    table: dict[str, dict[str, list[str]]] = Knowledge.load().transformers_meta.get("extra_requirements", {})
    return table.get(".".join(version.split(".")[:2]), {})


def preset_comparison(name: str, original: Inventory | None = None) -> Comparison:
    """The computed comparison of preset `name` with its original (the stored one unless given)."""
    record = preset_record(name)
    plan = resolve(load(name))
    if original is None:
        original = load_original(record.originals).inventory
    return compare(original, image_inventory(plan), record, extra_requirements(plan))
