"""`dockyard diff A B`: packages and sizes between two locks, two images, or a lock and an image.

A lock side has versions and hashes; an image side has versions and sizes (read from the saved image:
each site-packages package by its dist-info and RECORD) and its total and layer sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dockyard.engine.backends import Backend
from dockyard.render.lockfile import MAGIC, Lock, parse
from dockyard.supply import layout
from dockyard.supply.archive import Entry, Layer, read_archive, saved


@dataclass
class Side:
    label: str
    kind: str  # lock | image
    versions: dict[str, str]
    sizes: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    total: int | None = None
    layers: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    name: str
    before: str | None  # version; None when added
    after: str | None  # None when removed
    size_before: int | None = None
    size_after: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DiffReport:
    a: Side
    b: Side
    changes: list[Change]
    unchanged: int

    @property
    def same(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        sides = {key: {"label": s.label, "kind": s.kind, "size": s.total, "packages": len(s.versions)}
                 for key, s in (("a", self.a), ("b", self.b))}
        return {**sides, "same": self.same, "unchanged": self.unchanged, "changes": [c.to_json() for c in self.changes]}


def lock_side(lock: Lock, label: str) -> Side:
    return Side(label, "lock", lock.versions() | {p.name: p.url for p in lock.packages if p.url},
                hashes={p.name: p.hashes for p in lock.packages})


def image_side(archive: Path, label: str) -> Side:
    records: dict[str, str] = {}

    def visit(layer: Layer, entry: Entry, handle: IO[bytes]) -> None:
        if entry.path.endswith(".dist-info/RECORD"):
            records[entry.path] = handle.read().decode("utf-8", "replace")

    image = read_archive(archive, visit)
    files = [e for e in image.filesystem().values() if e.kind == "file"]
    rows = [r for r in layout.packages(files, records) if not r.name.startswith("(unowned)")]
    versions = {r.name: r.version for r in rows}
    sizes = {r.name: r.size for r in rows}
    layers = [(layer.created_by, layer.size) for layer in image.layers]
    return Side(label, "image", versions, sizes, total=sum(layer.size for layer in image.layers), layers=layers)


def is_lock(ref: str) -> bool:
    path = Path(ref)
    if not path.is_file():
        return False
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.readline().startswith(MAGIC)


def side(ref: str, backend: Backend | None) -> Side:
    if is_lock(ref):
        return lock_side(parse(Path(ref).read_text(encoding="utf-8"), ref), ref)
    if backend is None:
        from dockyard.engine.backends import backend_for
        from dockyard.engine.detect import detect

        backend = backend_for(detect("auto"))
    with saved(backend, ref) as archive:
        return image_side(archive, ref)


def _base(version: str) -> str:
    return version.split("+")[0]


def _size_changed(before: int | None, after: int | None) -> bool:
    """More than 1% and 100 kB apart (bytecode, slimming): both sides must be images."""
    if before is None or after is None:
        return False
    return abs(after - before) > max(100_000, before // 100)


def compare(a: Side, b: Side) -> DiffReport:
    changes: list[Change] = []
    unchanged = 0
    mixed = a.kind != b.kind  # a lock and an image: local labels (+cpu) are not compared
    for name in sorted(set(a.versions) | set(b.versions)):
        before, after = a.versions.get(name), b.versions.get(name)
        sizes = (a.sizes.get(name), b.sizes.get(name))
        if before is None or after is None:
            changes.append(Change(name, before, after, *sizes))
            continue
        same_version = before == after or (mixed and _base(before) == _base(after))
        hashes_differ = a.kind == b.kind == "lock" and a.hashes.get(name) != b.hashes.get(name)
        if not same_version:
            changes.append(Change(name, before, after, *sizes))
        elif _size_changed(*sizes):
            changes.append(Change(name, before, after, *sizes, note="same version, different size"))
        elif hashes_differ:
            changes.append(Change(name, before, after, note="same version, different hashes"))
        else:
            unchanged += 1
    return DiffReport(a, b, changes, unchanged)


def diff(ref_a: str, ref_b: str, backend: Backend | None = None) -> DiffReport:
    return compare(side(ref_a, backend), side(ref_b, backend))
