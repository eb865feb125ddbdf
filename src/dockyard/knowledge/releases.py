"""Every release of the packages the knowledge base tracks (knowledge.toml [tracked]: the torch family
and transformers), as PyPI tells it: when it was uploaded, the Python it admits, what it requires of
torch, its extras, the CUDA of PyPI's Linux build, and whether it was yanked.

`scripts/refresh_knowledge.py` builds these rows from the index (`from_index`) and writes them to
releases.toml (`render`); the loader reads them back (`parse`). Metadata of a release never changes,
so a refresh reads the METADATA of new releases only; yanks come from each project's JSON document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

CUDA_RUNTIMES = ("cuda-toolkit", "nvidia-cuda-runtime", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime-cu12",
                 "nvidia-cuda-runtime-cu13")


@dataclass(frozen=True)
class Release:
    """One release of a tracked package. Empty strings and tuples: PyPI does not say (or has no wheel)."""

    version: str
    uploaded: str  # the day its first file was uploaded, YYYY-MM-DD
    python: str = ""  # Requires-Python
    torch: str = ""  # what it requires of torch (transformers: its `torch` extra)
    extras: tuple[str, ...] = ()  # Provides-Extra
    wheels: tuple[str, ...] = ()  # CPython minors with a Linux x86_64 wheel (torch)
    cuda: str = ""  # the CUDA toolkit PyPI's Linux build depends on (torch)
    yanked: str | None = None  # None: not yanked; else the reason ("" when none was given)

    @property
    def key(self) -> Version:
        return Version(self.version)


# version -> the METADATA fields of one of its wheels (each a list of values), None without a wheel
MetadataReader = Callable[[str], "Mapping[str, list[str]] | None"]


@dataclass(frozen=True)
class Tracked:
    """What the knowledge base tracks of a package: its releases from `floor` on, and which fields."""

    name: str
    floor: str
    fields: tuple[str, ...] = field(default=())


def final_versions(document: Mapping[str, Any], floor: str) -> list[tuple[Version, list[dict[str, Any]]]]:
    """The final releases at or above `floor` that have files, oldest first."""
    found = []
    for text, files in document.get("releases", {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if files and not version.is_prerelease and not version.is_devrelease and version >= Version(floor):
            found.append((version, list(files)))
    return sorted(found, key=lambda item: item[0])


def from_index(tracked: Tracked, document: Mapping[str, Any], read_metadata: MetadataReader,
               known: Mapping[str, Release] | None = None) -> dict[str, Release]:
    """The releases of one package from its JSON document; METADATA (`read_metadata`) only for releases
    not in `known` (their metadata cannot change; their yank status is taken from the document)."""
    rows: dict[str, Release] = {}
    for version, files in final_versions(document, tracked.floor):
        text = str(version)
        yanked = _yanked(files)
        if known and text in known:
            rows[text] = replace(known[text], yanked=yanked)
            continue
        uploaded = min(str(f.get("upload_time") or "")[:10] for f in files)
        python = next((str(f["requires_python"]) for f in files if f.get("requires_python")), "")
        metadata = read_metadata(text)
        row = Release(text, uploaded, python, yanked=yanked)
        if metadata is not None:
            row = _with_metadata(tracked, row, metadata)
        if "wheels" in tracked.fields:
            row = replace(row, wheels=wheel_pythons(files))
        rows[text] = row
    return rows


def _yanked(files: list[dict[str, Any]]) -> str | None:
    if files and all(f.get("yanked") for f in files):
        return next((str(f["yanked_reason"]).strip() for f in files if f.get("yanked_reason")), "")
    return None


def _with_metadata(tracked: Tracked, row: Release, metadata: Mapping[str, list[str]]) -> Release:
    requirements = []
    for line in metadata.get("Requires-Dist", []):
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement:
            continue
    python = (metadata.get("Requires-Python") or [row.python])[0]
    changes: dict[str, Any] = {"python": python}
    if "extras" in tracked.fields:
        changes["extras"] = tuple(sorted({str(canonicalize_name(e)) for e in metadata.get("Provides-Extra", [])}))
    if "torch" in tracked.fields:
        changes["torch"] = torch_requirement(requirements)
    if "cuda" in tracked.fields:
        changes["cuda"] = cuda_runtime(requirements)
    return replace(row, **changes)


def torch_requirement(requirements: list[Requirement]) -> str:
    """The torch specifier a package requires: unconditionally, else through its `torch` extra."""
    plain = [r for r in requirements if canonicalize_name(r.name) == "torch" and "extra" not in str(r.marker or "")]
    extra = [r for r in requirements if canonicalize_name(r.name) == "torch" and _extra(r) == "torch"]
    chosen = plain or extra
    return str(chosen[0].specifier) if chosen else ""


def _extra(requirement: Requirement) -> str:
    marker = str(requirement.marker or "")
    if "extra ==" not in marker:
        return ""
    return marker.split("extra ==", 1)[1].split()[0].strip("\"'")


def cuda_runtime(requirements: list[Requirement]) -> str:
    """The version of the CUDA runtime a Linux torch wheel pins (cuda-toolkit or nvidia-cuda-runtime-cuXX)."""
    for requirement in requirements:
        if canonicalize_name(requirement.name) in CUDA_RUNTIMES:
            pins = [s.version for s in requirement.specifier if s.operator == "=="]
            if pins:
                return pins[0]
    return ""


def wheel_pythons(files: list[dict[str, Any]]) -> tuple[str, ...]:
    """CPython minors with a Linux x86_64 wheel (free-threaded builds left out)."""
    found = set()
    for file in files:
        name = str(file.get("filename", ""))
        if not name.endswith(".whl"):
            continue
        py_tag, abi_tag, platform = name[:-4].split("-")[-3:]
        if "linux" not in platform or "x86_64" not in platform or abi_tag.endswith("t"):
            continue
        for tag in py_tag.split("."):
            if tag.startswith("cp") and tag[2:].isdigit():
                found.add(f"{tag[2]}.{tag[3:]}")
    return tuple(sorted(found, key=Version))


# -- releases.toml -------------------------------------------------------------------------------------

FIELDS = ("uploaded", "python", "torch", "extras", "wheels", "cuda", "yanked")


def render(rows: Mapping[str, Mapping[str, Release]], refreshed: dt.date) -> str:
    lines = [
        "# Generated by scripts/refresh_knowledge.py from PyPI (each project's JSON document and its wheels'",
        "# METADATA); do not edit by hand. Every final release of the packages knowledge.toml [tracked] names:",
        "# uploaded (day of its first file), python (Requires-Python), torch (its torch requirement; for",
        "# transformers the `torch` extra's), extras (Provides-Extra), wheels (CPython minors with a Linux x86_64",
        "# wheel), cuda (the CUDA runtime PyPI's Linux build pins), yanked (PyPI's reason; \"\" when none given).",
        "# The curated tables must agree with these rows: tests/unit/knowledge/test_releases.py, and",
        "# `scripts/refresh_knowledge.py --check` prints the rows to add.",
        f"refreshed = {json.dumps(refreshed.isoformat())}",
        "",
    ]
    for name in sorted(rows):
        lines.append(f"[{name}]")
        for version in sorted(rows[name], key=Version):
            lines.append(f"{json.dumps(version)} = {{ {_inline(rows[name][version])} }}")
        lines.append("")
    return "\n".join(lines)


def _inline(row: Release) -> str:
    parts = []
    for name in FIELDS:
        value = getattr(row, name)
        if value is None or (value == "" and name != "yanked") or value == ():
            continue
        parts.append(f"{name} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
    return ", ".join(parts)


def parse(data: Mapping[str, Any]) -> dict[str, dict[str, Release]]:
    """releases.toml (as loaded) -> package -> version -> Release."""
    out: dict[str, dict[str, Release]] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            continue
        out[name] = {version: Release(
            version=version, uploaded=row["uploaded"], python=row.get("python", ""), torch=row.get("torch", ""),
            extras=tuple(row.get("extras", ())), wheels=tuple(row.get("wheels", ())), cuda=row.get("cuda", ""),
            yanked=row.get("yanked")) for version, row in table.items()}
    return out


def newest(rows: Mapping[str, Release], include_yanked: bool = False) -> Release | None:
    usable = [r for r in rows.values() if include_yanked or r.yanked is None]
    return max(usable, key=lambda r: r.key) if usable else None
