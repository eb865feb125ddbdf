"""Check a preset against its fidelity record (knowledge/fidelity.py): every item the record says is kept
must be in the plan, everything it says is provided must come from something the plan has, and
everything the plan installs must be accounted for (kept, named by a replacement, or added with a reason).
An empty list of problems means the record tells the truth about the preset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.knowledge.fidelity import ACCOUNTED, KINDS, Entry, Record, normal
from dockyard.knowledge.loader import Knowledge
from dockyard.render.blocks.system import BASE_PACKAGES
from dockyard.render.renderer import render
from dockyard.resolve.plan import Plan


@dataclass(frozen=True)
class PlanItems:
    """What a plan puts into the image, per kind of the record, plus what `provided` may name."""

    items: dict[str, frozenset[str]]
    extras: frozenset[str]
    addons: frozenset[str]
    modalities: frozenset[str]
    extra_requirements: dict[str, list[str]]  # extra -> what it installs, where the knowledge base knows


def plan_items(plan: Plan) -> PlanItems:
    packages: set[str] = {p.name for p in (*plan.torch.companions, *plan.packages)}
    if plan.torch.build != "none":
        packages.add("torch")
    if plan.torch.xla is not None:
        packages.add(plan.torch.xla.name)
    if not plan.transformers_for_job:
        packages.add("transformers")
    for addon in plan.addons:
        name = addon.requirement.split("==")[0].split(" @ ")[0].split("[")[0].strip() if addon.requirement else ""
        packages.add(name or addon.name)
    args = set(render(plan).build_args)
    return PlanItems(
        items={
            "packages": frozenset(normal("packages", p) for p in packages),
            "system": frozenset((*BASE_PACKAGES, *plan.system_packages)),
            "env": frozenset(name for name, _ in plan.env),
            "args": frozenset(args),
            "entrypoint": frozenset(plan.entrypoint),
            "steps": frozenset(),
        },
        extras=frozenset(plan.transformers.extras),
        addons=frozenset(a.name for a in plan.addons),
        modalities=frozenset(plan.spec.modalities),
        extra_requirements=_extra_requirements(plan),
    )


def _extra_requirements(plan: Plan) -> dict[str, list[str]]:
    version = plan.transformers.version
    if version is None:
        return {}
    line = ".".join(version.split(".")[:2])
    table: dict[str, dict[str, list[str]]] = Knowledge.load().transformers_meta.get("extra_requirements", {})
    return table.get(line, {})


def _provider_problem(entry: Entry, items: PlanItems) -> str | None:
    """Why `entry.by` does not bring the item into the plan, or None when it does."""
    kind, _, name = entry.by.partition(":")
    if kind == "torch":
        return None if "torch" in items.items["packages"] else "the plan has no torch"
    table = {"extra": items.extras, "addon": items.addons, "modality": items.modalities,
             "package": items.items["packages"]}[kind]
    if (normal("packages", name) if kind == "package" else name) not in table:
        return f"the plan does not have {entry.by!r}"
    installs = items.extra_requirements.get(name) if kind == "extra" else None
    if installs is not None and normal("packages", entry.name) not in installs:
        return f"the {name} extra does not install it (it installs {', '.join(installs)})"
    return None


def _named_by(record: Record, kind: str) -> set[str]:
    """Everything a replacement's `by` names (words that look like names of this kind)."""
    named: set[str] = set()
    for entry in record.select(kind, "replaced"):
        named.update(normal(kind, word) for word in re.findall(r"[A-Za-z0-9_.+-]+", entry.by))
    return named


def drift(record: Record, plan: Plan) -> list[str]:
    """Every way the record and the plan disagree, as sentences naming the preset, kind and item."""
    items = plan_items(plan)
    problems: list[str] = []
    where = f"preset {record.preset} [fidelity]"
    for kind in KINDS:
        have = items.items[kind]
        for entry in record.select(kind, "kept"):
            if kind == "steps":
                continue  # free-form: the docs show them, nothing in a plan names a step
            if kind == "entrypoint":
                if not plan.entrypoint:
                    problems.append(f"{where}.{kind}: {entry.name!r} is recorded as kept, but the plan has no "
                                    "entrypoint")
            elif normal(kind, entry.name) not in have:
                problems.append(f"{where}.{kind}: {entry.name!r} is recorded as kept, but the plan lacks it")
        for entry in record.select(kind, "added"):
            if kind in ACCOUNTED and normal(kind, entry.name) not in have:
                problems.append(f"{where}.{kind}: {entry.name!r} is recorded as added, but the plan lacks it")
        for entry in record.select(kind, "provided"):
            problem = _provider_problem(entry, items)
            if problem:
                problems.append(f"{where}.{kind}: {entry.name!r} is recorded as provided by {entry.by!r}, but "
                                f"{problem}")
        for entry in record.select(kind, "dropped"):
            if kind not in ("entrypoint", "steps") and normal(kind, entry.name) in have:
                problems.append(f"{where}.{kind}: {entry.name!r} is recorded as dropped, but the plan has it")
        if kind not in ACCOUNTED:
            continue
        accounted = {normal(kind, e.name) for e in record.select(kind, "kept", "added")} | _named_by(record, kind)
        accounted |= set(BASE_PACKAGES) if kind == "system" else set()  # in every dockyard image
        for name in sorted(have - accounted):
            problems.append(f"{where}.{kind}: the plan has {name!r}, which the record does not account for "
                            "(mark it kept, name it in a replacement's `by`, or list it under added with why)")
    return problems
