"""docker-bake.hcl for every preset: parsed by python-hcl2 (and by `docker buildx bake --print` where
buildx is installed; this project's machines have none), one target per image, version variables,
shared base stages through target contexts, cache, tags, secrets, attestations, a check group."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from dockyard.errors import EngineError, InputError
from dockyard.knowledge.loader import preset_names
from dockyard.scale import hcl
from dockyard.scale.bake import bake_argv, base_stage_key, write_bake
from dockyard.scale.select import select

from .conftest import engine


def plain(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and block labels: drop them."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if not k.startswith("__")}
    return value


def blocks(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for item in document.get(kind, []) for name, body in plain(item).items()}


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bake")
    result = write_bake(select([], all_presets=True), folder / "docker-bake.hcl", registry="ghcr.io/acme",
                        command="dockyard bake --all")
    return folder, result.text, hcl2.loads(result.text)


def test_every_preset_is_a_target_and_the_file_parses(baked: tuple[Path, str, dict[str, Any]]) -> None:
    folder, _, document = baked
    targets = blocks(document, "target")
    groups = blocks(document, "group")
    assert groups["default"]["targets"] == preset_names()
    assert groups["check"]["targets"] == [f"check-{name}" for name in preset_names()]
    for name in preset_names():
        target = targets[name]
        assert target["target"] == "runtime" and target["dockerfile"] == "Dockerfile"
        assert (folder / target["context"] / "Dockerfile").is_file()
        assert target["attest"] == ["type=sbom", "type=provenance,mode=max"]
        assert target["cache-from"] == f'${{cache_from("{name}")}}' and "cache_to" in target["cache-to"]
        assert target["secret"] == "${build_secrets()}"
        assert target["tags"].startswith(f'${{tags("{name}", ') and "py3." in target["tags"]
        check = targets[f"check-{name}"]
        assert check["call"] == "check" and check["context"] == target["context"]


def test_variables_for_versions(baked: tuple[Path, str, dict[str, Any]]) -> None:
    _, _, document = baked
    variables = blocks(document, "variable")
    targets = blocks(document, "target")
    for fixed in ("REGISTRY", "SOURCE_COMMIT", "CACHE_REGISTRY", "GHA_CACHE", "CA_CERT", "NETRC"):
        assert fixed in variables
    assert variables["REGISTRY"]["default"] == "ghcr.io/acme" and variables["GHA_CACHE"]["default"] is False
    args = targets["cpu-inference"]["args"]
    assert set(args) == {"PIP_INDEX_URL", "TORCH_VERSION", "TRANSFORMERS_VERSION"}
    names = {arg: variable.removeprefix("${").removesuffix("}") for arg, variable in args.items()}
    for arg, name in names.items():
        assert name in variables, f"{arg} refers to an undeclared variable {name}"
    assert names["PIP_INDEX_URL"] == "PIP_INDEX_URL", "one value everywhere: one global variable"
    assert variables[names["TORCH_VERSION"]]["default"] == "2.13.0"
    assert "TORCH_VARIANT" not in args and "BASE_IMAGE" not in args, "only versions become variables"


def test_shared_base_stages_are_built_once_through_target_contexts(baked: tuple[Path, str, dict[str, Any]]) -> None:
    folder, _, document = baked
    targets = blocks(document, "target")
    shared = {name: body for name, body in targets.items() if name.startswith("base-")}
    assert shared, "several presets have the same base stage"
    users: dict[str, list[str]] = {}
    for name, body in targets.items():
        for context_name, ref in body.get("contexts", {}).items():
            assert context_name == "base" and ref.startswith("target:")
            users.setdefault(ref.removeprefix("target:"), []).append(name)
    assert set(users) == set(shared)
    from dockyard.render.renderer import render

    for base, members in users.items():
        assert len(members) >= 2 and shared[base]["target"] == "base"
        keys = {base_stage_key(render(select([m])[0].plan)) for m in members}
        assert keys == {base.removeprefix("base-")}, "members really have the same base stage"
        dockerfile = (folder / shared[base]["context"] / "Dockerfile").read_text()
        assert "FROM ${BASE_IMAGE} AS base" in dockerfile


def test_functions_for_tags_cache_and_secrets(baked: tuple[Path, str, dict[str, Any]]) -> None:
    _, text, document = baked
    functions = blocks(document, "function")
    assert functions["tags"]["params"] == ["name", "versions"]
    assert "SOURCE_COMMIT" in functions["tags"]["result"]
    assert "type=registry,ref=${CACHE_REGISTRY}" in functions["cache_from"]["result"]
    assert "type=gha,scope=${scope},mode=max" in functions["cache_to"]["result"]
    assert "id=ca,src=${CA_CERT}" in functions["build_secrets"]["result"]
    assert "BEGIN CERTIFICATE" not in text and "build-arg" not in text


def test_deterministic(tmp_path: Path, baked: tuple[Path, str, dict[str, Any]]) -> None:
    again = write_bake(select([], all_presets=True), tmp_path / "docker-bake.hcl", registry="ghcr.io/acme",
                       command="dockyard bake --all")
    assert again.text == baked[1]


def test_spec_files_and_a_context_root(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "cpu-extra.toml"
    spec.parent.mkdir()
    spec.write_text('[image]\nextends = "cpu-inference"\nname = "cpu.extra"\nsystem-packages = ["git"]\n')
    result = write_bake(select(["cpu-inference", str(spec)]), tmp_path / "out" / "docker-bake.hcl",
                        tmp_path / "contexts")
    targets = blocks(hcl2.loads(result.text), "target")
    assert targets["cpu-extra"]["context"] == "../contexts/cpu-extra", "target names are bake-safe"
    assert "CPU_EXTRA_TORCH_VERSION" in result.text or "TORCH_VERSION" in result.text
    assert (tmp_path / "contexts" / "cpu-extra" / "Dockerfile").is_file()
    write_bake(select(["cpu-inference"]), tmp_path / "out" / "docker-bake.hcl", tmp_path / "contexts")


def test_a_folder_that_is_not_a_context_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "contexts" / "cpu-inference").mkdir(parents=True)
    (tmp_path / "contexts" / "cpu-inference" / "precious.txt").write_text("x")
    with pytest.raises(InputError, match="not a build context dockyard wrote"):
        write_bake(select(["cpu-inference"]), tmp_path / "docker-bake.hcl", tmp_path / "contexts")


def test_literal_text_is_never_interpolated() -> None:
    assert hcl.literal("https://x/${TORCH_VARIANT} %{if}") == '"https://x/$${TORCH_VARIANT} %%{if}"'
    assert hcl.value({"org.opencontainers.image.title": "a"}, 0) == '{\n  "org.opencontainers.image.title" = "a"\n}'
    assert hcl2.loads('x = ' + hcl.literal('a "b" \\ ${c}') + "\n")["x"] == '"a \\"b\\" \\\\ $${c}"'


def test_bake_command_for_remote_builders() -> None:
    argv = bake_argv(engine("buildx"), Path("docker-bake.hcl"), ["cpu-inference"], builder="k8s", push=True)
    assert argv == ["/usr/bin/docker", "buildx", "bake", "--file", "docker-bake.hcl", "--builder", "k8s", "--push",
                    "cpu-inference"]
    with pytest.raises(EngineError, match="bake needs the buildx plugin") as caught:
        bake_argv(engine("buildkit-env"), Path("docker-bake.hcl"))
    assert caught.value.hint and "matrix build" in caught.value.hint


@pytest.mark.skipif(not shutil.which("docker") or subprocess.run(["docker", "buildx", "version"],
                    capture_output=True).returncode != 0, reason="docker buildx is not installed here")
def test_buildx_bake_print_accepts_the_file(baked: tuple[Path, str, dict[str, Any]]) -> None:
    folder, _, _ = baked
    done = subprocess.run(["docker", "buildx", "bake", "--file", "docker-bake.hcl", "--print"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed["target"]) >= set(preset_names())
