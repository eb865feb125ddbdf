"""dockyard lock: what uv is asked (indexes, sources, platform), how its answer becomes a lock, base
image references, and the lock check a build makes. uv itself is replaced by a recording script here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.engine.maps import Maps, load_maps
from dockyard.render.lockfile import parse
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
from dockyard.supply.lock import (
    LockError,
    LockRequest,
    base_drift,
    base_refs,
    make_lock,
    pyproject,
    requirements,
    torch_family,
    wheel_for,
)

from .conftest import WHEEL


def calls(fake_uv: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((fake_uv.parent / "uv-calls.json").read_text())
    return data


def test_requirements_are_what_a_build_installs() -> None:
    plan = resolve(load("cpu-inference"))
    assert requirements(plan) == ["torch==2.13.0", "transformers==5.25.0"]
    assert torch_family(plan) == ("torch",)
    quality = resolve(load("quality"))
    assert torch_family(quality) == () and not any(r.startswith("torch") for r in requirements(quality))
    assert any(r.startswith("transformers[quality]==") for r in requirements(quality))


def test_companions_and_addons_from_other_indexes_are_locked_there() -> None:
    """all-latest's torchcodec comes from the CPU index (its own uv index), xpu's torchao from torch's index;
    fouroversix is built in its own step and not locked."""
    plan = resolve(load("transformers-all-latest-gpu"))
    text = pyproject(plan, "https://download.pytorch.org/whl/cu130", {})
    assert 'name = "torchcodec"\nurl = "https://download.pytorch.org/whl/cpu"\nexplicit = true' in text
    assert 'torchcodec = { index = "torchcodec" }' in text and 'torchaudio = { index = "torch" }' in text
    maps = load_maps([], ["https://download.pytorch.org/whl/*=https://pypi.org/simple"],
                     env={"DOCKYARD_CONFIG": "/nonexistent"})
    mapped = pyproject(plan, "https://pypi.org/simple", {}, maps)
    assert 'name = "torchcodec"\nurl = "https://pypi.org/simple"' in mapped
    xpu = resolve(load("transformers-pytorch-xpu"))
    assert "torchao" in torch_family(xpu) and 'torchao = { index = "torch" }' in pyproject(xpu, "x", {})
    quantization = resolve(load("transformers-quantization-latest-gpu"))
    assert not any(r.startswith("fouroversix") for r in requirements(quantization))


def test_the_wheelhouse_supplies_torch_only_for_this_python_and_arch(wheelhouse: Path) -> None:
    assert wheel_for(wheelhouse, "torch", "2.13.0", "3.11", "x86_64") == wheelhouse / WHEEL
    assert wheel_for(wheelhouse, "torch", "2.13.0", "3.11", "aarch64") is None
    assert wheel_for(wheelhouse, "torch", "2.14.0", "3.11", "x86_64") is None
    assert wheel_for(None, "torch", "2.13.0", "3.11", "x86_64") is None


def test_pyproject_pins_torch_to_its_index_or_the_wheel(wheelhouse: Path) -> None:
    plan = resolve(load("cpu-inference"))
    text = pyproject(plan, "https://download.pytorch.org/whl/cpu", {})
    assert 'explicit = true' in text and 'torch = { index = "torch" }' in text
    assert 'url = "https://download.pytorch.org/whl/cpu"' in text and 'requires-python = "==3.11.*"' in text
    text = pyproject(plan, "https://pypi.org/simple", {"torch": wheelhouse / WHEEL})
    assert f'torch = {{ path = "{wheelhouse / WHEEL}" }}' in text


def test_make_lock_asks_uv_for_the_image_platform_through_the_site_maps(fake_uv: Path, wheelhouse: Path) -> None:
    plan = resolve(load("cpu-inference"))
    maps = load_maps((), ("https://download.pytorch.org/whl/*=https://mirror.example/simple",
                          "https://pypi.org/simple=https://pypi-mirror.example/simple"), env={})
    request = LockRequest(plan, maps, "linux/amd64", wheelhouse, "/etc/ca.pem")
    lock = make_lock(request, str(fake_uv))
    seen = calls(fake_uv)
    argv = seen["argv"]
    assert isinstance(argv, list)
    assert argv[:3] == ["pip", "compile", "pyproject.toml"] and "--generate-hashes" in argv
    assert argv[argv.index("--python-platform") + 1] == "x86_64-manylinux_2_28"
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[argv.index("--index-url") + 1] == "https://pypi-mirror.example/simple"
    assert seen["ssl"] == "/etc/ca.pem" and "path =" in str(seen["pyproject"]), "the wheelhouse wheel is the source"
    torch = lock.get("torch")
    assert torch is not None and torch.version == "2.13.0+cpu" and torch.hashes == ("sha256:" + "b" * 64,)
    assert torch.via == ("spec",)
    assert lock.spec_digest == plan.digest and lock.resolver == "uv 9.9.9" and lock.torch_family == ("torch",)
    assert any(i.startswith("torch https://download.pytorch.org/whl/cpu (mapped to https://mirror") for i in lock.index)
    assert parse(lock.format(), "again") == lock


def test_a_failed_resolution_shows_uvs_reason(fake_uv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_UV_FAIL", "1")
    with pytest.raises(LockError) as info:
        make_lock(LockRequest(resolve(load("cpu-inference")), Maps()), str(fake_uv))
    assert "no solution for torch" in info.value.message


def test_base_refs_prefer_a_registry_digest_then_the_local_id() -> None:
    plan = resolve(load("cpu-inference"))
    maps = load_maps(("python:3.11-slim-bookworm=local/py:3.11",), (), env={})
    local = base_refs(plan, maps, lambda name: {"Id": "sha256:feed", "RepoDigests": []})
    assert [(b.name, b.used, b.ref) for b in local] == [("python:3.11-slim-bookworm", "local/py:3.11", "sha256:feed")]
    pulled = base_refs(plan, maps, lambda name: {"Id": "sha256:feed", "RepoDigests": ["python@sha256:beef"]})
    assert pulled[0].ref == "python@sha256:beef" and pulled[0].is_digest
    assert base_refs(plan, maps, None)[0].ref == "-"


def test_a_build_warns_when_the_base_is_not_the_locked_one(tmp_path: Path, fake_uv: Path, wheelhouse: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[image]\nextends = "cpu-inference"\nlock = "spec.lock"\n')
    plan = resolve(load(str(spec)))
    refs = base_refs(plan, Maps(), lambda name: {"Id": "sha256:old"})
    (tmp_path / "spec.lock").write_text(make_lock(LockRequest(plan, Maps(), base_refs=refs), str(fake_uv)).format())
    assert base_drift(plan, Maps(), lambda name: {"Id": "sha256:old"}) == []
    warnings = base_drift(plan, Maps(), lambda name: {"Id": "sha256:new"})
    assert len(warnings) == 1 and "not the image the lock recorded" in warnings[0]
    os.remove(tmp_path / "spec.lock")
    assert base_drift(plan, Maps(), lambda name: {"Id": "sha256:new"}) == [], "render reports a missing lock"
