"""The schema of a knowledge folder: which files it holds and the keys and types of each, as data.

`problems(name, document)` lists what is wrong with one parsed file (path, expected, found); the
packaged folder and a site's folder (`--knowledge DIR`) are checked against the same table. Types are
small classes; a table's optional keys end with "?". Versions and specifiers must parse, so a malformed
value is refused here instead of failing deep inside resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

SCHEMA = 1  # the layout this dockyard reads (knowledge.toml `schema`)


def _found(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


class Type:
    name = "a value"
    plural = "values"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        yield from ()


class Str(Type):
    name = "a string"
    plural = "strings"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, str):
            yield f"{path}: expected {self.name}, found {_found(value)}"


class Bool(Type):
    name = "true or false"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, bool):
            yield f"{path}: expected {self.name}, found {_found(value)}"


class Int(Type):
    name = "an integer"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, int) or isinstance(value, bool):
            yield f"{path}: expected {self.name}, found {_found(value)}"


class Num(Type):
    name = "a number"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            yield f"{path}: expected {self.name}, found {_found(value)}"


class Ver(Str):
    name = "a version string (e.g. \"2.15.0\")"
    plural = "version strings"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        try:
            Version(value) if isinstance(value, str) else None
        except InvalidVersion:
            yield f"{path}: expected {self.name}, found {_found(value)}"
            return
        yield from super().problems(value, path)


class Spec(Str):
    name = "a version specifier string (e.g. \">=2.6,<2.7\")"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        try:
            SpecifierSet(value) if isinstance(value, str) else None
        except InvalidSpecifier:
            yield f"{path}: expected {self.name}, found {_found(value)}"
            return
        yield from super().problems(value, path)


class Day(Str):
    name = "a date string YYYY-MM-DD"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            yield f"{path}: expected {self.name}, found {_found(value)}"


@dataclass
class List(Type):
    item: Type
    plural: str = "lists"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, list):
            yield f"{path}: expected a list of {self.item.plural}, found {_found(value)}"
            return
        for index, item in enumerate(value):
            yield from self.item.problems(item, f"{path}[{index}]")


@dataclass
class Map(Type):
    """A table whose keys are names (packages, variants, versions) and whose values share one type."""

    value: Type
    key: Type | None = None
    name: str = "a table"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, dict):
            yield f"{path}: expected {self.name}, found {_found(value)}"
            return
        for key, item in value.items():
            if self.key is not None:
                yield from self.key.problems(key, f"{path} key {key!r}")
            yield from self.value.problems(item, f"{path}.{key}")


@dataclass
class Table(Type):
    """A table with known keys ("name?" optional); `rest` types any other key (None: none allowed)."""

    keys: dict[str, Type] = field(default_factory=dict)
    rest: Type | None = None
    name: str = "a table"
    plural: str = "tables"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, dict):
            yield f"{path or 'the file'}: expected {self.name}, found {_found(value)}"
            return
        known = {k.rstrip("?"): (t, k.endswith("?")) for k, t in self.keys.items()}
        for key, (kind, optional) in known.items():
            where = f"{path}.{key}" if path else key
            if key in value:
                yield from kind.problems(value[key], where)
            elif not optional:
                yield f"{where}: missing (expected {kind.name})"
        for key, item in value.items():
            if key in known:
                continue
            where = f"{path}.{key}" if path else key
            if self.rest is None:
                yield f"{where}: unknown key (known: {', '.join(sorted(known))})"
            else:
                yield from self.rest.problems(item, where)


def Rows(keys: dict[str, Type]) -> List:
    """An array of tables ([[name]])."""
    return List(Table(keys))


STR, BOOL, INT, NUM, VER, SPEC, DAY = Str(), Bool(), Int(), Num(), Ver(), Spec(), Day()
STRS = List(STR)
SOURCES = {"sources": STRS}
SOURCED = {"sources?": STRS, "source?": STR}
SOURCE_TABLE = Map(STR)
ENV = Map(STR)

RELEASE = Table({"uploaded": DAY, "python?": STR, "torch?": STR, "extras?": STRS, "wheels?": STRS,
                 "cuda?": STR, "yanked?": STR})

FILES: dict[str, Table] = {
    "knowledge.toml": Table({
        "schema": Int(), "version": STR, "refreshed": DAY, "source": STR,
        "tracked": Map(Table({"floor": VER, "fields": STRS, "table": STR})),
        "gap?": Rows({"key": STR, "note": STR}),
    }),
    "torch.toml": Table({
        "sources": SOURCE_TABLE,
        "index": Table({"release": STR, "test": STR, "nightly": STR, "source": STR}),
        "nightly": Table({"python": STRS, "cuda": STRS, "rocm": STRS, "xpu": BOOL, "cpu": BOOL, **SOURCES}),
        "release": Rows({"minor": STR, "patches": List(VER), "released": STR, "python": STRS, "cuda": STRS,
                         "rocm": STRS, "xpu": BOOL, "cpu": BOOL, "pypi_default": STR,
                         "torchvision": Map(VER, VER), "torchaudio": Map(VER, VER), "variants_known?": BOOL,
                         **SOURCES}),
    }),
    "cuda.toml": Table({
        "sources": SOURCE_TABLE,
        "variant": Rows({"name": STR, "toolkit": VER, "ubuntu": STRS, **SOURCES}),
        "drivers": Table({"minimum": List(List(STR)), **SOURCES}),
        "minor_compat": Table({"sources": STRS}, rest=STR),
        "archs": Rows({"variant": STR, "torch": SPEC, "archs": STRS, **SOURCES}),
        "default_archs": Map(STRS),
        "gpu": Rows({"cc": STR, "name": STR, "examples": STR, "first_cuda": STR, "last_cuda_major?": Int(),
                     **SOURCES}),
    }),
    "rocm.toml": Table({
        "sources": SOURCE_TABLE,
        "variant": Rows({"name": STR, "version": STR, "dev_image": STR, "ubuntu": STR, **SOURCES}),
        "runtime": Table({"image": STR, "packages": STRS, **SOURCES}),
        "conflicts": Table({"uninstall": STRS, **SOURCES}),
        "archs": Table({"wheels": STRS, "wheels_rocm7": STRS, "default": STRS, "default_rocm7": STRS, **SOURCES,
                        "refuse": Map(Table({"reason": STR, "suggest": STR, **SOURCES}))}),
        "gpu": Rows({"gfx": STR, "name": STR, "examples": STR, **SOURCES}),
    }),
    "targets.toml": Table({
        "sources": SOURCE_TABLE,
        "target": Map(Table({"description": STR, "family": STR, "runtime_base": STR, "compile_base": STR,
                             "distro": STR, "torch_build": STR, "env?": ENV, "runtime_packages?": STRS,
                             "packages?": STRS, "uninstall?": STRS, "jit_packages?": STRS, "imports?": STRS,
                             "sources?": STRS})),
        "torch_xla": Rows({"version": VER, "torch": STR, "python": STRS, "source": STR}),
        "archive?": Map(Table({"description": STR, "distros": STRS, "key_url": STR, "line": STR, "source": STR})),
    }),
    "addons.toml": Table({
        "sources": SOURCE_TABLE,
        "addon": Map(Table({
            "description": STR, "targets": STRS, "pip?": STR, "import?": STR, "compile_on?": STRS,
            "no_build_isolation?": BOOL, "build_packages?": STRS, "build_python?": STRS,
            "runtime_packages?": STRS, "build_env?": ENV, "pip_args?": STRS, "torch?": SPEC,
            "release?": Rows({"version": VER, "torch": SPEC}), "source_url?": STR, "default_ref?": STR,
            "keep_torch_headers?": BOOL, "min_cuda_arch?": STR, "script?": STR, "script_env?": ENV,
            "runtime_paths?": STRS, "path?": STR, "probe_tool?": STR, "torch_index?": STRS, "own_step?": BOOL,
            "probe?": Rows({"name": STR, "code": STR, "gpu?": BOOL, "compiled?": BOOL}),
            "refuse?": Rows({"when": ENV, "reason": STR, "suggest?": STR, "sources?": STRS}),
            "sources?": STRS})),
    }),
    "modalities.toml": Table({
        "sources": SOURCE_TABLE,
        "modality": Map(Table({"description": STR, "packages": STRS, "system": STRS, "imports": STRS,
                               "torch_companions?": STRS, "tools?": STRS, "libraries?": STRS, **SOURCES})),
        "optional_companions": Map(STR),
        "torchcodec": Map(VER),
        "companion_index?": Map(Table({"source": STR}, rest=STR)),
        "configure?": Rows({"package": STR, "run": STR, "why": STR, "source": STR}),
        "trim?": Rows({"package": STR, "paths": STRS, "pulled_by": STRS, "distros": STRS, "why": STR,
                       "source": STR}),
    }),
    "transformers.toml": Table({
        "source": STR, "repository": STR, "archive": STR,
        "extra_companions": Map(STRS),
        "broken_extra?": Rows({"versions": SPEC, "extras": STRS, "reason": STR}),
        "extra_requirements?": Map(Map(STRS)),
    }),
    "releases.toml": Table({"refreshed": DAY}, rest=Map(RELEASE, VER)),
    "pins.toml": Table({
        "uv": Table({"version": VER, "url": STR, "sha256": STR}),
        "package": Map(Map(Table({"version": VER, "sdist?": BOOL, "torch?": STR}))),
    }),
    "python.toml": Table({
        "sources": SOURCE_TABLE,
        "images": Table({"tag": STR, "versions": STRS, **SOURCES}),
        "distro": Table({"sources": STRS}, rest=STR),
        "installer?": Table({"env": Map(Table({"value": STR, "why": STR, "source": STR}))}),
        "package_data?": Rows({"package": STR, "run": STR, "why": STR, "source": STR}),
    }),
    "serve.toml": Table({
        "sources": SOURCE_TABLE,
        "cli": Rows({"transformers": SPEC, "model": STR, "options": STRS, "routes": STRS, "admin": STRS,
                     "imports": STRS, "processes": STR, **SOURCES}),
        "extra": Table({"name": STR, "packages": STRS, **SOURCES}),
        "device": Map(STR),
        "file": Rows({"file": STR, "modality": STR, "key?": STR, "value?": Type(), **SOURCES}),
        "gateway": Table({"proxy": STR, "package": STR, "binary": STR, "upstream-offset": INT,
                          "metrics-offset": INT, "latency-buckets-ms": List(INT), **SOURCES}),
        "metric": Rows({"name": STR, "type": STR, "what": STR, **SOURCES}),
        "setting": Rows({"key": STR, "env": STR, "flag": STR, **SOURCES}),
        "continuous-batching": Table({"memory-percent": Map(INT), "sources": Map(STR)}, rest=BOOL),
        "baked": Table({"exclude": STRS, **SOURCES}),
        "root-trim": Table({"keep?": STR, "rows": Rows({"name": STR, "packages?": STRS, "paths?": STRS, "why": STR,
                                                       **SOURCES})}),
    }),
    "deploy.toml": Table({
        "sources": SOURCE_TABLE,
        "target": Map(Table({"devices": STRS, "groups": STRS, "host_groups": STRS, "reservation": STR,
                             "k8s_resource": STR, "node_selector": ENV, "privileged?": BOOL,
                             "host_network?": BOOL, "tolerations": List(Table({"key": STR, "operator": STR,
                                                                               "effect": STR})),
                             "runtime_class": STR, "shm": STR, "runtime_mib": INT, **SOURCES})),
        "resources": Table({"headroom": NUM, "unknown_memory": STR, "cpu": STR, "tmp": STR, "cache": STR,
                            "model_volume_headroom": NUM, "model_volume_extra_gib": INT,
                            "unknown_model_volume": STR, "weight_files": STRS, **SOURCES}),
        "dtype_bytes": Map(NUM),
        "quantization_bytes": Map(NUM),
        "shutdown": Table({"prestop_seconds": INT, **SOURCES}),
        "spread": Table({"topology_key": STR, "max_skew": INT, "when_unsatisfiable": STR, **SOURCES}),
        "autoscale": Table({"scale_down_window": INT, "max_window": INT, "scale_up_pods": INT,
                            "scale_up_period": INT, "keda_query": STR, "keda_in_flight": INT, "metrics_path": STR,
                            **SOURCES}),
        "kserve": Table({"api_version": STR, "deployment_mode": STR, "container": STR, **SOURCES}),
    }),
    "model_types.toml": Table({"source": STR, "model_type": Map(STRS)}),
    "imports.toml": Table({
        "sources": SOURCE_TABLE,
        "repositories": Map(STR),
        "build_only": Table({"packages": STRS}),
        "python_packages": Table({"packages": STRS}),
        "runtime_of": Map(STR),
        "torch_dependents": Table({"packages": STRS}),
    }),
}


def problems(name: str, document: Mapping[str, Any]) -> list[str]:
    """What is wrong with one parsed knowledge file (empty when it fits the schema)."""
    schema = FILES.get(name)
    if schema is None:
        return [f"{name}: not a knowledge file (known: {', '.join(sorted(FILES))})"]
    return [f"{name}: {problem}" for problem in schema.problems(dict(document), "")]
