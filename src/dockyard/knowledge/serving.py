"""What the serve profile knows: how each transformers release spells `transformers serve`, the serving
extra's packages, each target's default device, and which modalities a model's type and files need
(knowledge/serve.toml and knowledge/model_types.toml)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge.folder import knowledge_dir, read


@dataclass(frozen=True)
class ServeCli:
    """How the releases in `transformers` spell `transformers serve` and what their server answers."""

    transformers: SpecifierSet
    model: str  # "positional" or the option that names the model
    imports: tuple[str, ...]
    sources: tuple[str, ...]
    options: tuple[str, ...] = ()  # every option of the command
    routes: tuple[str, ...] = ()  # "METHOD /path" a client may call: inference, models, health
    admin: tuple[str, ...] = ()  # "METHOD /path" that change the server's state (unload, load a model)
    processes: str = "one"  # "one": the model in the server's process; "model-process": in one of its own

    @property
    def lower(self) -> str:
        """The oldest release the row covers (its >= bound)."""
        return next(s.version for s in self.transformers if s.operator == ">=")


@dataclass(frozen=True)
class FileRule:
    file: str
    modality: str
    key: str = ""
    value: Any = None

    def matches(self, document: Mapping[str, Any] | None) -> bool:
        """`document`: the rule's file as a JSON object ({} when it is not one), None when it is missing."""
        if document is None:
            return False
        if not self.key:
            return True
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

    def newest(self) -> str:
        """The newest release line a row covers, as its lower bound (e.g. "5.25")."""
        return self.cli[0].lower

    def oldest(self) -> str:
        return min((str(s) for row in self.cli for s in row.transformers if s.operator == ">="),
                   key=lambda text: Version(text[2:]))

    def source_text(self, keys: tuple[str, ...] | list[str]) -> str:
        return "; ".join(self.sources[k] for k in keys if k in self.sources)

    def covers(self, version: str) -> bool:
        return self.cli_for(version) is not None


def serve_knowledge(folder: Path | None = None) -> ServeKnowledge:
    """serve.toml and model_types.toml of a knowledge folder (default: the one in use), loaded once."""
    return _serve_at(folder or knowledge_dir())


@functools.cache
def _serve_at(folder: Path) -> ServeKnowledge:
    data = read("serve.toml", folder)
    types = read("model_types.toml", folder)
    rows = [ServeCli(SpecifierSet(row["transformers"]), row["model"], tuple(row["imports"]), tuple(row["sources"]),
                     tuple(row["options"]), tuple(row["routes"]), tuple(row["admin"]), row["processes"])
            for row in data["cli"]]
    return ServeKnowledge(
        cli=tuple(sorted(rows, key=lambda row: Version(row.lower), reverse=True)),
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
