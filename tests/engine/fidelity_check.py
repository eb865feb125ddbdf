"""What the computed fidelity comparison says the image holds, checked against the built image itself: its
Python distributions (importlib.metadata, as an SBOM lists them) and its dpkg database. The reader reads the
rendered Dockerfile; this proves that reading true of what the build produced."""

from __future__ import annotations

import json
import os
import subprocess

from packaging.utils import canonicalize_name

from dockyard.engine.detect import Engine
from dockyard.readback.compare import compare
from dockyard.readback.originals import load_original
from dockyard.readback.presets import extra_requirements, image_inventory, preset_record
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

PRESENT = ("kept", "changed", "added", "replacement", "own", "provided")  # the image has it
ABSENT = ("dropped", "replaced")  # the original's item is not in the image

DISTRIBUTIONS = ("import importlib.metadata as m, json; "
                 "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))")


def _run(engine: Engine, tag: str, *argv: str) -> str:
    done = subprocess.run([engine.client, "run", "--rm", "--network", "none", "--entrypoint", "", tag, *argv],
                          capture_output=True, text=True, env={**os.environ, **engine.env})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def mismatches(engine: Engine, tag: str, spec_ref: str, preset: str) -> list[str]:
    """Rows of the comparison (spec `spec_ref` built as `tag`, against `preset`'s original and record) that
    the built image contradicts; packages the spec excludes are left out."""
    spec = load(spec_ref)
    plan = resolve(spec)
    record = preset_record(preset)
    comparison = compare(load_original(record.originals).inventory, image_inventory(plan), record,
                         extra_requirements(plan))
    python = {str(canonicalize_name(n)) for n in json.loads(_run(engine, tag, "python", "-c", DISTRIBUTIONS))}
    apt = set(_run(engine, tag, "dpkg-query", "-W", "-f", "${Package}\n").split())
    excluded = {str(canonicalize_name(e)) for e in spec.exclude}
    found: list[str] = []
    for row in comparison.rows:
        if row.kind == "packages" and not row.name.startswith(("-", "/", ".", "$")):
            have, name = python, str(canonicalize_name(row.name))
        elif row.kind == "system":
            have, name = apt, row.name
        else:
            continue
        if name in excluded:
            continue
        if row.status in PRESENT and name not in have:
            found.append(f"{row.kind} {row.name}: the comparison says {row.status} ({row.reason or row.image}), "
                         "but the built image lacks it")
        if row.status in ABSENT and name in have:
            found.append(f"{row.kind} {row.name}: the record says {row.status} ({row.reason}), but the built image "
                         "has it")
    return found
