"""Site settings: base image and package index maps, and defaults for the wheelhouse and the CA.

A map comes from three places, later ones winning: the config file (`$DOCKYARD_CONFIG`, else
`~/.config/dockyard/config.toml`, tables `[base-map]` and `[index-map]`), the environment
(`DOCKYARD_BASE_MAP`, `DOCKYARD_INDEX_MAP`: comma-separated FROM=TO) and the command line
(`--base-map`, `--index-map`, repeatable). FROM is an exact name, a glob (`nvidia/cuda:*`), or for
base images a registry prefix ending in `/` (`nvcr.io/=mirror.example.com/nvcr/`).
The config's `[build]` table (`wheelhouse`, `ca-cert`) and `DOCKYARD_WHEELHOUSE`/`DOCKYARD_CA_CERT`
give defaults for `--wheelhouse` and `--ca-cert`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from dockyard.engine.siteconfig import read_config
from dockyard.errors import InputError
from dockyard.spec.references import image_pattern, image_reference, refuse_breaks, repository, shown
from dockyard.spec.secrets import refuse_secret_value


@dataclass(frozen=True)
class MapRule:
    pattern: str
    replacement: str
    origin: str  # where the rule came from, for messages

    def apply(self, value: str) -> str | None:
        if self.pattern.endswith("/") and value.startswith(self.pattern):
            return self.replacement + value[len(self.pattern):]
        if value == self.pattern or fnmatch.fnmatchcase(value, self.pattern):
            return self.replacement
        return None


@dataclass(frozen=True)
class Maps:
    base: tuple[MapRule, ...] = ()
    index: tuple[MapRule, ...] = ()

    def base_image(self, image: str) -> str:
        return _first(self.base, image) or image

    def index_url(self, url: str) -> str:
        normal = url.rstrip("/")
        return _first(self.index, normal) or _first(self.index, normal + "/") or url


def _first(rules: Sequence[MapRule], value: str) -> str | None:
    for rule in reversed(rules):  # later rules (command line) win
        mapped = rule.apply(value)
        if mapped is not None:
            return mapped
    return None


def parse_rule(text: str, origin: str, kind: str) -> MapRule:
    if kind == "base":
        refuse_secret_value(text, origin)
    if "=" not in text:
        raise InputError(f"{origin}: {shown(text)} is not FROM=TO",
                         f"write e.g. --{kind}-map 'nvidia/cuda:*=local/cuda:dev'")
    pattern, replacement = (part.strip() for part in text.split("=", 1))
    if not pattern or not replacement:
        raise InputError(f"{origin}: {shown(text)} has an empty side", "both FROM and TO are needed")
    refuse_breaks(text, origin)
    if kind == "base":
        image_pattern(pattern, f"{origin} FROM")
        if pattern.endswith("/") or replacement.endswith("/"):
            repository(replacement.rstrip("/"), f"{origin} TO (a registry prefix)")
        else:
            image_reference(replacement, f"{origin} TO")
    if kind == "index":
        for url in (pattern, replacement):
            if "*" in url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
                raise InputError(f"{origin}: {shown(url)} is not an index URL", "use e.g. https://pypi.org/simple")
            if parts.username or parts.password:
                raise InputError(
                    f"{origin}: an index URL with credentials would be recorded in the image history",
                    "give the credentials as a netrc secret instead: --secret id=netrc,src=~/.netrc",
                )
        pattern, replacement = pattern.rstrip("/"), replacement.rstrip("/")
    return MapRule(pattern, replacement, origin)


def site_default(option: str, env: Mapping[str, str] | None = None) -> str | None:
    """The default of --wheelhouse or --ca-cert: the environment, then the config's [build] table."""
    env = os.environ if env is None else env
    variable = {"wheelhouse": "DOCKYARD_WHEELHOUSE", "ca-cert": "DOCKYARD_CA_CERT"}[option]
    if env.get(variable):
        return env[variable]
    value = read_config(env)[1].get("build", {}).get(option)
    return str(value) if value else None


def load_maps(base_cli: Sequence[str], index_cli: Sequence[str], env: Mapping[str, str] | None = None) -> Maps:
    env = os.environ if env is None else env
    base: list[MapRule] = []
    index: list[MapRule] = []
    path, data = read_config(env)
    if data:
        for key, target in (("base-map", base), ("index-map", index)):
            for pattern, replacement in (data.get(key) or {}).items():
                target.append(parse_rule(f"{pattern}={replacement}", f"{path} [{key}]", key[:-4]))
    for variable, target, kind in (("DOCKYARD_BASE_MAP", base, "base"), ("DOCKYARD_INDEX_MAP", index, "index")):
        for item in (env.get(variable) or "").replace("\n", ",").split(","):
            if item.strip():
                target.append(parse_rule(item.strip(), variable, kind))
    base += [parse_rule(item, "--base-map", "base") for item in base_cli]
    index += [parse_rule(item, "--index-map", "index") for item in index_cli]
    return Maps(tuple(base), tuple(index))


@dataclass(frozen=True)
class SiteName:
    """A name the plan gives (a public base image or index) and what a build on this site uses for it."""

    role: str  # "base", "builder", "index", "torch index"
    public: str
    used: str

    @property
    def mapped(self) -> bool:
        return self.used != self.public

    def shown(self) -> str:
        """`USED (public: PUBLIC)` when the site maps it, else the name."""
        return f"{self.used} (public: {self.public})" if self.mapped else self.public

    def to_json(self) -> dict[str, str]:
        return {"public": self.public, "used": self.used}


def site_names(runtime_base: str, builder_base: str, torch_index: str, pip_index: str,
               maps: Maps) -> tuple[SiteName, ...]:
    """The bases and indexes a build here really uses, beside the public names the plan gives."""
    rows = [SiteName("base", runtime_base, maps.base_image(runtime_base)),
            SiteName("builder", builder_base, maps.base_image(builder_base))]
    rows.append(SiteName("index", pip_index, maps.index_url(pip_index)))
    if torch_index:
        rows.append(SiteName("torch index", torch_index, maps.index_url(torch_index)))
    return tuple(rows)
