"""examples/scale/ holds what the scale generators give for a few presets, for docs/scaling.md to point
at. They are regenerated and compared here; rewrite them with `pytest tests/unit/scale --update-golden`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.resolve.resolver import resolve
from dockyard.scale.apptainer import DefOptions, definition_text
from dockyard.scale.bake import write_bake
from dockyard.scale.select import select
from dockyard.scale.workflow import WorkflowOptions, workflow
from dockyard.spec.model import load

from ..conftest import REPO

EXAMPLES = REPO / "examples" / "scale"
REGISTRY = "ghcr.io/acme"


def generate(scratch: Path) -> dict[str, str]:
    bake = write_bake(select(["cpu-inference", "quality"]), scratch / "docker-bake.hcl",
                      scratch / "dockyard-contexts", REGISTRY,
                      f"dockyard bake cpu-inference quality --registry {REGISTRY} -o docker-bake.hcl")
    images = workflow(select([], all_presets=True), WorkflowOptions(
        registry=REGISTRY, command=f"dockyard ci github --all --registry {REGISTRY} -o .github/workflows/images.yml"),
        REPO)
    apptainer = definition_text(resolve(load("cpu-inference")), DefOptions(
        from_image="", command="dockyard apptainer cpu-inference --from-image -o cpu-inference.def"))
    return {"docker-bake.hcl": bake.text, "images.yml": images, "cpu-inference.def": apptainer}


@pytest.mark.parametrize("name", ["docker-bake.hcl", "images.yml", "cpu-inference.def"])
def test_examples_are_current(name: str, tmp_path: Path, update_golden: bool) -> None:
    text = generate(tmp_path)[name]
    path = EXAMPLES / name
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file() and path.read_text() == text, \
        f"{path} is stale: regenerate with `.venv/bin/pytest tests/unit/scale/test_examples.py --update-golden`"
