"""The CI "branch under test" model (transformers-install = "dependencies"): every CI preset can take it;
the image installs a ref's dependencies and removes transformers itself; the TRANSFORMERS_REF build
argument is the one `dockyard ci github` resolves to a commit sha once and passes to the build, so the
cache is busted exactly when the branch moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.knowledge.loader import preset_names
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.scale.select import select
from dockyard.scale.workflow import WorkflowOptions, workflow
from dockyard.spec.model import load

yaml = pytest.importorskip("ruamel.yaml")

CI_PRESETS = [name for name in preset_names() if load(name).profile == "ci"]


def branch_spec(folder: Path, preset: str) -> Path:
    path = folder / f"{preset}-branch.toml"
    path.write_text(f'[image]\nextends = "{preset}"\nname = "{preset}-branch"\ntransformers = "main"\n'
                    'transformers-install = "dependencies"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("preset", CI_PRESETS)
def test_every_ci_preset_takes_the_option(preset: str, tmp_path: Path) -> None:
    plan = resolve(load(str(branch_spec(tmp_path, preset))))
    rendered = render(plan)
    assert plan.transformers_for_job and plan.transformers.ref == "main"
    assert rendered.build_args["TRANSFORMERS_REF"] == "main"
    assert "TRANSFORMERS_VERSION" not in rendered.build_args
    dockerfile = rendered.dockerfile
    install = dockerfile.index("archive/${TRANSFORMERS_REF}.tar.gz")
    slim = dockerfile.index("slim.py")
    uninstall = dockerfile.index("pip uninstall -y transformers")
    assert install < slim < uninstall, "dependencies installed and warmed up with transformers, then it goes"
    expected = plan.expectations()
    assert expected["transformers_for_job"] is True and "transformers" not in expected["versions"]


def test_the_default_leaves_presets_and_their_digests_alone() -> None:
    plan = resolve(load("torch-light"))
    assert not plan.transformers_for_job and "transformers_for_job" not in plan.expectations()
    assert "transformers-install" not in plan.spec.to_toml_dict()
    assert "pip uninstall -y transformers" not in render(plan).dockerfile


def test_only_ci_images_may_leave_transformers_to_the_job(tmp_path: Path) -> None:
    path = tmp_path / "runtime.toml"
    path.write_text('[image]\ntarget = "cpu"\ntransformers-install = "dependencies"\n', encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load(str(path))
    assert "[image].transformers-install" in str(caught.value) and 'profile = "ci"' in str(caught.value)


def test_github_workflow_resolves_the_branch_and_passes_the_sha(tmp_path: Path) -> None:
    spec = branch_spec(tmp_path, "torch-light")
    text = workflow(select([str(spec), "quality"]), WorkflowOptions(transformers_ref="main"), tmp_path)
    document: dict[str, Any] = yaml.YAML(typ="safe", pure=True).load(text)
    resolve_job = document["jobs"]["resolve"]
    assert "git ls-remote" in resolve_job["steps"][0]["run"] or "ls-remote" in resolve_job["steps"][0]["run"]
    assert resolve_job["outputs"]["transformers-sha"] == "${{ steps.ref.outputs.sha }}"
    verify = document["jobs"]["verify"]
    entries = {e["name"]: e for e in verify["strategy"]["matrix"]["include"]}
    assert entries["torch-light-branch"]["transformers-ref"] is True, "the branch image gets the resolved sha"
    assert entries["quality"]["transformers-ref"] is False, "a pinned release needs none"
    build = next(s for s in verify["steps"] if s.get("name", "").startswith("Build"))
    assert "needs.resolve.outputs.transformers-sha" in build["with"]["build-args"]
    assert "TRANSFORMERS_REF=" in build["with"]["build-args"]
