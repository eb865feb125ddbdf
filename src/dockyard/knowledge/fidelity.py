"""Fidelity records: why a preset's image differs from the original it reproduces.

What an original holds and what a preset's image holds are computed, not written down: the reader
(readback/) reads the original (its inventory is kept in knowledge/originals/) and the preset's rendered
Dockerfile, and lists every item of each (pip and apt packages, extras, env, base, Python, user, entrypoint,
build arguments, files, build steps ...). An item in both, with a compatible version or value, is kept:
nothing is written for it. A record only explains the differences, one entry per item, in a table per
kind (the kinds of readback/inventory.py), by status:

    provided   an item of the original the image gets through something the image visibly has:
               "extra:NAME" (transformers' extra), "package:NAME" (a dependency of it), "torch" (of the
               torch wheels), "addon:NAME", "venv" (the image's virtualenv: pip, and setuptools and wheel
               where the image keeps its build tools)
    replaced   an item of the original the image has something else for: { by = [items of the image],
               why = "..." }; `by` names items as "NAME" (same kind) or "KIND:NAME"
    changed    an item in both whose version or value differs: { why = "...", source = "..." }
    dropped    an item of the original the image lacks: { why = "...", source = "where the reason comes from" }
    added      an item of the image the original lacks: "why"

The comparison (readback/compare.py) refuses a record that is silent about a difference, explains one
that does not exist, names an item neither side has, or claims a provider or replacement the image lacks.
docs/presets.md shows the comparison.

    [fidelity]
    original = "docker/exotic-models.dockerfile"
    [fidelity.packages]
    provided = { pytest = "extra:testing" }
    replaced = { opencv-python = { by = ["opencv-python-headless"], why = "no libGL in a headless image" } }
    dropped = { nose = { why = "unused by transformers' tests", source = "tests/ (no import of nose)" } }
    added = { pillow = "the vision modality's image library" }
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from dockyard.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The kinds of item a record may explain (readback/inventory.py KINDS, kept equal by a test).
KINDS = ("base", "python", "packages", "extras", "system", "env", "args", "user", "workdir", "shell", "labels",
         "entrypoint", "cmd", "files", "steps")
STATUSES = ("provided", "replaced", "changed", "dropped", "added")
PROVIDERS = ("extra", "package", "addon", "venv", "torch")
_NEEDS = {"replaced": ("by", "why"), "changed": ("why",), "dropped": ("why", "source")}


@dataclass(frozen=True)
class Entry:
    """The record's word on one item."""

    kind: str
    name: str
    status: str
    by: tuple[str, ...] = ()  # replaced: items of the image; provided: the provider ("extra:testing")
    why: str = ""
    source: str = ""


@dataclass(frozen=True)
class Record:
    preset: str
    originals: tuple[str, ...]  # "docker/PATH"; more than one: each later one is built FROM the one before
    entries: tuple[Entry, ...]
    note: str = ""

    def select(self, kind: str, *statuses: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind and (not statuses or e.status in statuses)]

    def entry(self, kind: str, name: str) -> Entry | None:
        key = normal(kind, name)
        return next((e for e in self.entries if e.kind == kind and normal(kind, e.name) == key), None)


def normal(kind: str, name: str) -> str:
    """How names compare: pip names canonically (opencv_python == opencv-python), extras by their package's
    canonical name, the rest as written."""
    if kind == "packages":
        return str(canonicalize_name(name)) if not name.startswith(("-", "/", ".", "$")) else name
    if kind == "extras" and "[" in name:
        package, _, extra = name.partition("[")
        return f"{canonicalize_name(package)}[{canonicalize_name(extra.rstrip(']'))}]"
    return name


def _entries(where: str, kind: str, table: dict[str, Any]) -> list[Entry]:
    found: list[Entry] = []
    for status, value in table.items():
        if status == "kept":
            raise SpecError(f"{where}.{kind}.kept: what is kept is computed from the original and the image",
                            "remove `kept`; a record only explains differences")
        if status not in STATUSES:
            raise SpecError(f"{where}.{kind}: unknown status {status!r}", f"use one of: {', '.join(STATUSES)}")
        if not isinstance(value, dict):
            raise SpecError(f"{where}.{kind}.{status} must be a table of NAME = ...")
        for name, item in value.items():
            found.append(_entry(f"{where}.{kind}.{status}.{name}", kind, name, status, item))
    return found


PLACEHOLDER = re.compile(r"^\s*(?:TODO|FIXME|TBD|XXX)\b")


def _entry(where: str, kind: str, name: str, status: str, item: Any) -> Entry:
    if status in ("provided", "added"):
        if not isinstance(item, str) or not item.strip():
            raise SpecError(f"{where} must be a non-empty string")
        if status == "provided" and item.split(":", 1)[0] not in PROVIDERS:
            raise SpecError(f"{where} = {item!r}: unknown provider",
                            f"write one of {', '.join(p + ':NAME' for p in PROVIDERS[:-2])}, venv or torch")
        return Entry(kind, name, status, by=(item,) if status == "provided" else (), why=item if status == "added"
                     else "")
    if not isinstance(item, dict):
        raise SpecError(f"{where} must be a table, e.g. {{ why = \"...\", source = \"...\" }}")
    needed = _NEEDS[status]
    by = item.get("by", [])
    by = [by] if isinstance(by, str) else by
    missing = [key for key in needed if not (by if key == "by" else str(item.get(key, "")).strip())]
    unknown = [key for key in item if key not in ("by", "why", "source")]
    if missing or unknown or not isinstance(by, list) or not all(isinstance(b, str) and b.strip() for b in by):
        raise SpecError(f"{where}: {status} needs {' and '.join(needed)}"
                        + (f"; unknown keys {unknown}" if unknown else ""),
                        "replaced: by = [items of the image] and why; changed: why; dropped: why and source")
    return Entry(kind, name, status, by=tuple(by), why=str(item.get("why", "")), source=str(item.get("source", "")))


def record_from_dict(preset: str, document: dict[str, Any]) -> Record | None:
    """The record of a parsed preset document, or None if it has no [fidelity] table."""
    table = document.get("fidelity")
    if table is None:
        return None
    where = f"preset {preset}: [fidelity]"
    original = table.get("original") if isinstance(table, dict) else None
    originals = [original] if isinstance(original, str) else original
    if not isinstance(originals, list) or not originals or not all(
            isinstance(o, str) and o.startswith("docker/") for o in originals):
        raise SpecError(f"{where} needs original = \"docker/PATH\": the file of transformers' docker/ folder it "
                        "reproduces (a list when one is built FROM the other)",
                        "its inventory lies in knowledge/originals/ (scripts/refresh_originals.py)")
    note = table.get("note", "")
    if not isinstance(note, str):
        raise SpecError(f"{where}.note must be a string")
    entries: list[Entry] = []
    for key, value in table.items():
        if key in ("original", "note"):
            continue
        if key not in KINDS:
            raise SpecError(f"{where}: unknown table {key!r}", f"use {', '.join(KINDS)}")
        if not isinstance(value, dict):
            raise SpecError(f"{where}.{key} must be a table")
        entries += _entries(where, key, value)
    seen: dict[tuple[str, str], str] = {}
    for entry in entries:
        key = (entry.kind, normal(entry.kind, entry.name))
        if key in seen:
            raise SpecError(f"{where}.{entry.kind}: {entry.name!r} is both {seen[key]} and {entry.status}",
                            "say once what the preset does with it")
        seen[key] = entry.status
    return Record(preset, tuple(originals), tuple(entries), note)


def load_record(path: Path) -> Record | None:
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return record_from_dict(path.stem, document)
