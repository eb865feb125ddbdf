"""Fidelity records: what a preset does with everything its original image carries.

Each preset that reproduces an image of transformers' `docker/` folder has a `[fidelity]` table in its
file (knowledge/presets/NAME.toml). For every pip package, system package, environment variable, build
argument, entrypoint and notable build step (a clone, a smoke test, test data fetched at build time) of
the original it says one of:

    kept       the plan has it (same name)
    provided   kept, but installed through something the plan has: "extra:testing", "addon:deepspeed",
               "modality:audio", "package:NAME" or "torch" (a dependency of the torch wheels)
    replaced   by something else: { by = "what replaces it", why = "why" }
    dropped    not in the image: { why = "why", source = "where the reason comes from" }

and `added` names what the preset has that the original lacks ({ NAME = "why" }). docs/presets.md is
generated from these records, and dockyard.verify.records checks them against each preset's plan.

    [fidelity]
    original = "docker/exotic-models.dockerfile @060988b6"
    [fidelity.packages]
    kept = ["accelerate", "timm"]
    provided = { pytest = "extra:testing" }
    replaced = { opencv-python = { by = "opencv-python-headless", why = "no libGL in a headless image" } }
    dropped = { nose = { why = "unused by transformers' tests", source = "tests/ (no import of nose)" } }
    added = { pillow = "the vision modality's image library" }
"""

from __future__ import annotations

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

KINDS = ("packages", "system", "env", "args", "entrypoint", "steps")
KIND_TITLES = {"packages": "Python packages", "system": "system packages", "env": "environment",
               "args": "build arguments", "entrypoint": "entrypoint", "steps": "build steps"}
# Kinds whose every plan item the record must account for; dockyard's own build arguments (BASE_IMAGE,
# TORCH_VERSION ...) and steps are described once, in docs/architecture.md, not per preset.
ACCOUNTED = ("packages", "system", "env")
STATUSES = ("kept", "provided", "replaced", "dropped", "added")
PROVIDERS = ("extra", "addon", "modality", "package", "torch")


@dataclass(frozen=True)
class Entry:
    """One item of the original (or, with status "added", of the preset only)."""

    kind: str
    name: str
    status: str
    by: str = ""  # replaced: what replaces it; provided: "extra:NAME" and the like
    why: str = ""
    source: str = ""


@dataclass(frozen=True)
class Record:
    preset: str
    original: str
    entries: tuple[Entry, ...]

    def select(self, kind: str, *statuses: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind and (not statuses or e.status in statuses)]


def normal(kind: str, name: str) -> str:
    """How names compare: pip names canonically (opencv_python == opencv-python), the rest as written."""
    return str(canonicalize_name(name)) if kind == "packages" else name


def _entries(where: str, kind: str, table: dict[str, Any]) -> list[Entry]:
    found: list[Entry] = []
    for status, value in table.items():
        if status not in STATUSES:
            raise SpecError(f"{where}.{kind}: unknown status {status!r}", f"use one of: {', '.join(STATUSES)}")
        if status == "kept":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SpecError(f"{where}.{kind}.kept must be a list of names")
            found += [Entry(kind, name, "kept") for name in value]
            continue
        if not isinstance(value, dict):
            raise SpecError(f"{where}.{kind}.{status} must be a table of NAME = ...")
        for name, item in value.items():
            found.append(_entry(f"{where}.{kind}.{status}.{name}", kind, name, status, item))
    return found


def _entry(where: str, kind: str, name: str, status: str, item: Any) -> Entry:
    if status in ("provided", "added"):
        if not isinstance(item, str) or not item.strip():
            raise SpecError(f"{where} must be a non-empty string")
        if status == "provided" and item.split(":", 1)[0] not in PROVIDERS:
            raise SpecError(f"{where} = {item!r}: unknown provider",
                            f"write one of {', '.join(p + ':NAME' for p in PROVIDERS[:-1])} or torch")
        return Entry(kind, name, status, by=item if status == "provided" else "", why=item if status == "added" else "")
    if not isinstance(item, dict):
        raise SpecError(f"{where} must be a table, e.g. {{ why = \"...\", source = \"...\" }}")
    needed = ("by", "why") if status == "replaced" else ("why", "source")
    missing = [key for key in needed if not str(item.get(key, "")).strip()]
    unknown = [key for key in item if key not in ("by", "why", "source")]
    if missing or unknown:
        raise SpecError(f"{where}: {status} needs {' and '.join(needed)}"
                        + (f"; unknown keys {unknown}" if unknown else ""),
                        "a replaced item says by what and why; a dropped one why, with the source of the reason")
    return Entry(kind, name, status, by=str(item.get("by", "")), why=str(item["why"]),
                 source=str(item.get("source", "")))


def record_from_dict(preset: str, document: dict[str, Any]) -> Record | None:
    """The record of a parsed preset document, or None if it has no [fidelity] table."""
    table = document.get("fidelity")
    if table is None:
        return None
    where = f"preset {preset}: [fidelity]"
    if not isinstance(table, dict) or not isinstance(table.get("original"), str):
        raise SpecError(f"{where} needs original = \"the file and commit it was read at\"")
    entries: list[Entry] = []
    for key, value in table.items():
        if key == "original":
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
    return Record(preset, table["original"], tuple(entries))


def load_record(path: Path) -> Record | None:
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return record_from_dict(path.stem, document)
