"""What the serve profile knows: how each transformers release spells `transformers serve`, the serving
extra's packages, each target's default device, and which modalities a model's type and files need
(knowledge/serve.toml and knowledge/model_types.toml)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge.loader import _load


@dataclass(frozen=True)
class ServeCli:
    transformers: SpecifierSet
    model: str  # "positional" or the option that names the model
    imports: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class FileRule:
    file: str
    modality: str
    key: str = ""
    value: Any = None

    def matches(self, folder: Path) -> bool:
        path = folder / self.file
        if not path.is_file():
            return False
        if not self.key:
            return True
        document = read_json(path)
        if self.key not in document:
            return False
        return self.value is None or document[self.key] == self.value


@dataclass(frozen=True)
class RootTrim:
    """What a serve image's root leaves out of its base (serve.toml [[root-trim.rows]])."""

    name: str
    packages: tuple[str, ...]
    paths: tuple[str, ...]
    why: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ServeKnowledge:
    cli: tuple[ServeCli, ...]
    extra: str
    packages: tuple[str, ...]
    devices: dict[str, str]
    files: tuple[FileRule, ...]
    model_types: dict[str, tuple[str, ...]]
    sources: dict[str, str]
    model_types_source: str
    root_trim: tuple[RootTrim, ...] = ()
    root_keep: str = ""  # a file name kept inside the folders the root-trim paths name

    def cli_for(self, version: str | None) -> ServeCli | None:
        """The CLI row of a transformers release; a git ref (no version) gets the newest row."""
        if version is None:
            return self.cli[0]
        return next((row for row in self.cli if row.transformers.contains(Version(version))), None)

    def oldest(self) -> str:
        return min((str(s) for row in self.cli for s in row.transformers if s.operator == ">="),
                   key=lambda text: Version(text[2:]))

    def source_text(self, keys: tuple[str, ...] | list[str]) -> str:
        return "; ".join(self.sources[k] for k in keys if k in self.sources)


def read_json(path: Path) -> dict[str, Any]:
    """A model file as a JSON object; {} when it is not one (the caller says what it needed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@functools.cache
def serve_knowledge() -> ServeKnowledge:
    data = _load("serve.toml")
    types = _load("model_types.toml")
    return ServeKnowledge(
        cli=tuple(ServeCli(SpecifierSet(row["transformers"]), row["model"], tuple(row["imports"]),
                           tuple(row["sources"])) for row in data["cli"]),
        extra=data["extra"]["name"],
        packages=tuple(data["extra"]["packages"]),
        devices=dict(data["device"]),
        files=tuple(FileRule(row["file"], row["modality"], row.get("key", ""), row.get("value"))
                    for row in data["file"]),
        model_types={name: tuple(mods) for name, mods in types["model_type"].items()},
        sources=dict(data["sources"]),
        model_types_source=str(types["source"]),
        root_trim=tuple(RootTrim(row["name"], tuple(row.get("packages", ())), tuple(row.get("paths", ())), row["why"],
                                 tuple(row["sources"])) for row in data["root-trim"]["rows"]),
        root_keep=str(data["root-trim"].get("keep", "")),
    )
