"""What the serve profile knows: how each transformers release spells `transformers serve` and which routes it
serves, the serving extra's packages, each target's default device and continuous-batching default, the
gateway in front of the server, the run-time settings, and which modalities a model's type and files need
(knowledge/serve.toml and knowledge/model_types.toml)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge.loader import _load


@dataclass(frozen=True)
class ServeCli:
    transformers: SpecifierSet
    model: str  # "positional" or the option that names the model
    imports: tuple[str, ...]
    routes: tuple[str, ...]  # "METHOD /path" of the public API
    admin_routes: tuple[str, ...]  # served too, but they change the server for every client
    warm_up: str  # "METHOD /path" of the readiness check's one-token request
    cb_memory_option: str  # caps continuous batching's KV cache (a fraction of the host's memory); "" if none
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Gateway:
    """The proxy in front of the server (knowledge/serve.toml [gateway])."""

    proxy: str
    package: str  # the Debian package the final image installs
    binary: str
    upstream_offset: int  # the server's loopback port is [serve].port + this
    metrics_offset: int  # HAProxy's own exporter's loopback port is [serve].port + this
    latency_buckets: tuple[float, ...]
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

    def setting(self, key: str) -> Setting:
        return next(s for s in self.settings if s.key == key)

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


@functools.cache
def serve_knowledge() -> ServeKnowledge:
    data = _load("serve.toml")
    types = _load("model_types.toml")
    gateway, cb = data["gateway"], data["continuous-batching"]
    return ServeKnowledge(
        cli=tuple(ServeCli(SpecifierSet(row["transformers"]), row["model"], tuple(row["imports"]),
                           tuple(row["routes"]), tuple(row["admin"]), row["warm-up"], row["cb-memory-option"],
                           tuple(row["sources"]))
                  for row in data["cli"]),
        extra=data["extra"]["name"],
        packages=tuple(data["extra"]["packages"]),
        devices=dict(data["device"]),
        files=tuple(FileRule(row["file"], row["modality"], row.get("key", ""), row.get("value"))
                    for row in data["file"]),
        model_types={name: tuple(mods) for name, mods in types["model_type"].items()},
        sources=dict(data["sources"]),
        model_types_source=str(types["source"]),
        gateway=Gateway(gateway["proxy"], gateway["package"], gateway["binary"], gateway["upstream-offset"],
                        gateway["metrics-offset"], tuple(float(b) for b in gateway["latency-buckets"]),
                        tuple(gateway["sources"])),
        settings=tuple(Setting(row["key"], row["env"], row["flag"]) for row in data["setting"]),
        metrics=tuple(Metric(row["name"], row["type"], row["what"]) for row in data["metric"]),
        continuous_batching={k: bool(v) for k, v in cb.items() if k not in ("sources", "memory-percent")},
        cb_memory_percent={k: int(v) for k, v in cb["memory-percent"].items()},
        continuous_batching_sources=dict(cb["sources"]),
    )
