"""Read an image the way the engine saves it (`docker save` / `podman save`): the config with its history,
and every layer's files, without running the image.

Each layer is a tar; a file deleted by a later layer is a whiteout (`.wh.NAME`, or `.wh..wh..opq` for a
whole folder) and is still stored in the lower layer, which is why a secrets scan reads every layer and
the size breakdown reads the merged file system.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from dockyard.engine.backends import Backend
from dockyard.errors import EngineError, InputError

CHUNK = 8 * 1024 * 1024
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class Entry:
    path: str  # absolute: /usr/bin/python3
    size: int
    mode: int
    kind: str  # file | dir | symlink | link | other
    layer: int
    link: str = ""


@dataclass
class Layer:
    index: int
    diff_id: str
    created_by: str
    entries: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # whiteouts: paths this layer deletes
    opaque: list[str] = field(default_factory=list)  # folders this layer empties first

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries if e.kind == "file")


@dataclass
class SavedImage:
    config: dict[str, Any]
    layers: list[Layer]
    archive: Path | None = None
    layer_names: list[str] = field(default_factory=list)  # each layer's tar inside the archive

    def filesystem(self) -> dict[str, Entry]:
        """The merged file system the container sees: later layers win, whiteouts delete."""
        merged: dict[str, Entry] = {}
        for layer in self.layers:
            for folder in layer.opaque:
                prefix = folder.rstrip("/") + "/"
                for path in [p for p in merged if p.startswith(prefix)]:
                    del merged[path]
            for path in layer.removed:
                prefix = path.rstrip("/") + "/"
                merged.pop(path, None)
                for child in [p for p in merged if p.startswith(prefix)]:
                    del merged[child]
            for entry in layer.entries:
                merged[entry.path] = entry
        return merged

    def history(self) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = self.config.get("history") or []
        return history


FileVisitor = Callable[[Layer, Entry, IO[bytes]], None]


def normal(name: str) -> str:
    """Tar member name -> absolute path ("./usr/bin/x", "usr/bin/x" -> "/usr/bin/x")."""
    while name.startswith("./"):
        name = name[2:]
    return str(PurePosixPath("/", name.lstrip("/"))) if name not in ("", ".") else "/"


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "link"
    return "other"


def read_layer(index: int, diff_id: str, created_by: str, stream: IO[bytes], visit: FileVisitor | None) -> Layer:
    layer = Layer(index, diff_id, created_by)
    with tarfile.open(fileobj=stream, mode="r:*") as tar:
        for member in tar:
            path = normal(member.name)
            name = PurePosixPath(path).name
            if name == OPAQUE:
                layer.opaque.append(str(PurePosixPath(path).parent))
                continue
            if name.startswith(WHITEOUT):
                layer.removed.append(str(PurePosixPath(path).parent / name[len(WHITEOUT):]))
                continue
            entry = Entry(path, member.size if member.isreg() else 0, member.mode, _kind(member), index,
                          member.linkname if member.issym() or member.islnk() else "")
            layer.entries.append(entry)
            if visit is not None and member.isreg() and member.size:
                handle = tar.extractfile(member)
                if handle is not None:
                    visit(layer, entry, handle)
    return layer


def layer_commands(config: dict[str, Any]) -> list[str]:
    """The instruction behind each non-empty layer, in order."""
    return [str(h.get("created_by", "")) for h in config.get("history") or [] if not h.get("empty_layer")]


def read_archive(path: Path, visit: FileVisitor | None = None) -> SavedImage:
    """Parse a docker-archive tar (docker save, podman save; also Docker's OCI-layout variant)."""
    try:
        outer = tarfile.open(path)  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{path}: not an image archive: {exc}") from None
    with outer:
        manifest = _json_member(outer, "manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise InputError(f"{path}: no manifest.json: not a `docker save` archive")
        config = _json_member(outer, str(manifest[0]["Config"]))
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        commands = layer_commands(config)
        layers = []
        for index, name in enumerate(manifest[0]["Layers"]):
            handle = outer.extractfile(str(name))
            if handle is None:
                raise InputError(f"{path}: layer {name} is missing")
            diff_id = diff_ids[index] if index < len(diff_ids) else ""
            created_by = commands[index] if index < len(commands) else ""
            layers.append(read_layer(index, diff_id, created_by, handle, visit))
    return SavedImage(config, layers, path, [str(n) for n in manifest[0]["Layers"]])


def file_digests(image: SavedImage, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[str, str]]:
    """(layer, path) -> (md5 hex, sha256 urlsafe base64 without padding) of a few files, read again."""
    import base64
    import hashlib

    digests: dict[tuple[int, str], tuple[str, str]] = {}
    if image.archive is None or not wanted:
        return digests
    with tarfile.open(image.archive) as outer:
        for index in sorted({layer for layer, _ in wanted}):
            handle = outer.extractfile(image.layer_names[index])
            if handle is None:
                continue
            with tarfile.open(fileobj=handle, mode="r:*") as tar:
                for member in tar:
                    key = (index, normal(member.name))
                    content = tar.extractfile(member) if key in wanted and member.isreg() else None
                    if content is None:
                        continue
                    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
                    for chunk in read_chunks(content):
                        md5.update(chunk)
                        sha.update(chunk)
                    digests[key] = (md5.hexdigest(), base64.urlsafe_b64encode(sha.digest()).rstrip(b"=").decode())
    return digests


def _json_member(tar: tarfile.TarFile, name: str) -> Any:
    handle = tar.extractfile(name)
    if handle is None:
        raise InputError(f"{name} is missing from the image archive")
    return json.loads(handle.read())


def read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


@contextmanager
def saved(backend: Backend, image: str) -> Iterator[Path]:
    """Save the image to a temporary archive (removed afterwards)."""
    if backend.inspect(image) is None:
        raise InputError(f"no image {image!r} in {backend.engine.kind}",
                         "build it first or check the name with `docker images`")
    with tempfile.TemporaryDirectory(prefix="dockyard-save-") as folder:
        target = Path(folder) / "image.tar"
        argv = [backend.engine.client, "save", "-o", str(target), image]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise EngineError(f"{backend.engine.kind} save {image} failed: {done.stderr.strip()[-500:]}")
        yield target
