"""Helpers for the supply tests: a synthetic `docker save` archive (layers, config, history, whiteouts)
and a lock text, so audit, diff and SBOM run without an engine."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class FakeFile:
    path: str  # absolute
    data: bytes = b""
    mode: int = 0o644
    kind: str = "file"  # file | dir | symlink
    link: str = ""


@dataclass
class FakeLayer:
    files: list[FakeFile] = field(default_factory=list)
    created_by: str = ""


def layer_tar(layer: FakeLayer) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for item in layer.files:
            info = tarfile.TarInfo(item.path.lstrip("/"))
            info.mode = item.mode
            if item.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif item.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = item.link
                tar.addfile(info)
            else:
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def write_archive(path: Path, layers: list[FakeLayer], config: dict[str, object] | None = None) -> Path:
    """A docker-archive tar as `docker save` writes it (manifest.json, config, one tar per layer)."""
    blobs = [layer_tar(layer) for layer in layers]
    diff_ids = ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs]
    history = [{"created_by": layer.created_by or f"/bin/sh -c #(nop) layer {i}"} for i, layer in enumerate(layers)]
    full: dict[str, object] = {"architecture": "amd64", "os": "linux", "created": "2026-01-02T03:04:05.123456789Z",
            "config": {"User": "1000:1000", "Env": ["PATH=/usr/bin", "VIRTUAL_ENV=/opt/venv"],
                       "Entrypoint": ["/usr/bin/tini", "--"], "Cmd": ["python"], "Labels": {"x": "y"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
    full.update(config or {})
    config_blob = json.dumps(full).encode()
    config_name = hashlib.sha256(config_blob).hexdigest() + ".json"
    names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": ["test/image:latest"], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        for name, data in [(config_name, config_blob), *zip(names, blobs, strict=True),
                           ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


ArchiveMaker = Callable[..., Path]


@pytest.fixture
def make_archive(tmp_path: Path) -> ArchiveMaker:
    def make(layers: list[FakeLayer], config: dict[str, object] | None = None, name: str = "image.tar") -> Path:
        return write_archive(tmp_path / name, layers, config)
    return make


# A real-looking token: random base62 body with digits, upper and lower case (never a real credential).
FAKE_TOKEN = "hf_" + "Q7xK2mP9vL4nR8tW3yZ6bC1dF5gH0jJ2kS"
SITE = "/opt/venv/lib/python3.11/site-packages"

LOCK_TEXT = """# dockyard lock 1
# spec: preset cpu-inference
# spec-digest: sha256:abc
# name: cpu-inference
# python: 3.11
# platform: x86_64-manylinux_2_28
# torch-family: torch
# index: pypi https://pypi.org/simple
# base-image: BASE_IMAGE python:3.11-slim-bookworm dockyard/bookworm-python:3.11 sha256:1234
#
numpy==2.4.6 \\
    --hash=sha256:{h1} \\
    --hash=sha256:{h2}
    # via transformers
torch==2.13.0+cpu \\
    --hash=sha256:{h3}
    # via
    #   spec
    #   accelerate
transformers==5.24.0 \\
    --hash=sha256:{h4}
    # via spec
""".format(h1="1" * 64, h2="2" * 64, h3="3" * 64, h4="4" * 64)


WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
UV_OUTPUT = f"""filelock==4.3.1 \\
    --hash=sha256:{"a" * 64}
    # via torch
/WHEELHOUSE/{WHEEL} \\
    --hash=sha256:{"b" * 64}
    # via dockyard-lock (pyproject.toml)
transformers==5.24.0 \\
    --hash=sha256:{"c" * 64}
    # via dockyard-lock (pyproject.toml)
"""


@pytest.fixture
def fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `uv` that records its arguments and input, and answers with UV_OUTPUT (or fails on demand)."""
    log = tmp_path / "uv-calls.json"
    script = tmp_path / "uv"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
from pathlib import Path
if sys.argv[1:] == ["--version"]:
    print("uv 9.9.9"); sys.exit(0)
if os.environ.get("FAKE_UV_FAIL"):
    print("error: no solution for torch", file=sys.stderr); sys.exit(1)
Path({str(log)!r}).write_text(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(),
    "pyproject": Path("pyproject.toml").read_text(), "ssl": os.environ.get("SSL_CERT_FILE")}}))
out = sys.argv[sys.argv.index("--output-file") + 1]
Path(out).write_text({UV_OUTPUT!r}.replace("/WHEELHOUSE", os.environ["FAKE_WHEELHOUSE"]))
""")
    script.chmod(0o755)
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "no-config.toml"))
    return script


@pytest.fixture
def wheelhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / WHEEL).write_bytes(b"not really a wheel")
    (folder / "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (folder / "torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    monkeypatch.setenv("FAKE_WHEELHOUSE", str(folder))
    return folder
