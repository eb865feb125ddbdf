"""What the serve profile knows: how each transformers release spells `transformers serve` and which routes it
serves, the serving extra's packages, each target's default device and continuous-batching default, the
gateway in front of the server, the run-time settings, and which modalities a model's type and files need
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

COMPLETION, CHAT = "POST /v1/completions", "POST /v1/chat/completions"
CB_MEMORY = "--cb-max-memory-percent"


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

    @property
    def warm_up(self) -> str:
        """The gateway's readiness request: a plain completion where the release has one (no chat template
        needed), else a chat completion."""
        return COMPLETION if COMPLETION in self.routes else CHAT

    @property
    def cb_memory_option(self) -> str:
        """The option that caps continuous batching's KV cache; "" where the release has none."""
        return CB_MEMORY if CB_MEMORY in self.options else ""


@dataclass(frozen=True)
class Gateway:
    """The proxy in front of the server (knowledge/serve.toml [gateway])."""

    proxy: str
    package: str  # the Debian package the final image installs
    binary: str
    upstream_offset: int  # the server's loopback port is [serve].port + this
    metrics_offset: int  # HAProxy's own exporter's loopback port is [serve].port + this
    latency_buckets: tuple[float, ...]  # seconds
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    """A [serve] key the image takes at run time from `env` (the spec's value is the default)."""

    key: str
    env: str
    flag: str  # the `transformers serve` option; "" when the launcher or the gateway reads it


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    what: str


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
    gateway: Gateway
    settings: tuple[Setting, ...]
    metrics: tuple[Metric, ...]
    continuous_batching: dict[str, bool]  # target -> the default when [serve] leaves it out
    continuous_batching_sources: dict[str, str]
    cb_memory_percent: dict[str, int]  # target -> default share of the container's memory for the KV cache
    root_trim: tuple[RootTrim, ...] = ()
    root_keep: str = ""  # a file name kept inside the folders the root-trim paths name
    baked_exclude: tuple[str, ...] = ()  # removed from an image whose model lies in it (downloads only)

    def setting(self, key: str) -> Setting:
        return next(s for s in self.settings if s.key == key)

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
    gateway, cb = data["gateway"], data["continuous-batching"]
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
        gateway=Gateway(gateway["proxy"], gateway["package"], gateway["binary"], gateway["upstream-offset"],
                        gateway["metrics-offset"], tuple(ms / 1000 for ms in gateway["latency-buckets-ms"]),
                        tuple(gateway["sources"])),
        settings=tuple(Setting(row["key"], row["env"], row["flag"]) for row in data["setting"]),
        metrics=tuple(Metric(row["name"], row["type"], row["what"]) for row in data["metric"]),
        continuous_batching={k: bool(v) for k, v in cb.items() if k not in ("sources", "memory-percent")},
        continuous_batching_sources=dict(cb["sources"]),
        cb_memory_percent={k: int(v) for k, v in cb["memory-percent"].items()},
        root_trim=tuple(RootTrim(row["name"], tuple(row.get("packages", ())), tuple(row.get("paths", ())), row["why"],
                                 tuple(row["sources"])) for row in data["root-trim"]["rows"]),
        root_keep=str(data["root-trim"].get("keep", "")),
        baked_exclude=tuple(data["baked"]["exclude"]),
    )
