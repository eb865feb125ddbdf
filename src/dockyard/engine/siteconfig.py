"""The site config: `$DOCKYARD_CONFIG`, else `~/.config/dockyard/config.toml` (scripts/setup.sh writes it).

Read and checked here, once, for everything that uses it: the maps of base images and package indexes and
the build defaults (maps.py), and the knowledge folder (`knowledge = "DIR"`, picked by the CLI).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dockyard.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TABLES = ("base-map", "index-map", "build")
KEYS = ("knowledge",)


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("DOCKYARD_CONFIG"):
        return Path(env["DOCKYARD_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "dockyard" / "config.toml"


def read_config(env: Mapping[str, str]) -> tuple[Path, dict[str, Any]]:
    path = config_path(env)
    if not path.is_file():
        return path, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot read the dockyard config: {exc}") from None
    unknown = set(data) - {*TABLES, *KEYS}
    if unknown:
        raise InputError(f"{path}: unknown table(s) or key(s) {', '.join(sorted(unknown))}",
                         "the config knows [base-map], [index-map], [build] and knowledge = \"DIR\"")
    if "knowledge" in data and not isinstance(data["knowledge"], str):
        raise InputError(f"{path}: knowledge must be a string (a folder), got {type(data['knowledge']).__name__} "
                         f"{data['knowledge']!r}", 'write it as knowledge = "/path/to/knowledge"')
    build = data.get("build", {})
    if not isinstance(build, dict) or set(build) - {"wheelhouse", "ca-cert"}:
        raise InputError(f"{path}: [build] knows wheelhouse and ca-cert")
    for table in TABLES:
        values = data.get(table, {})
        if not isinstance(values, dict):
            raise InputError(f"{path}: {table} must be a table [{table}], got {values!r}",
                             f'write it as [{table}] with one "FROM" = "TO" per line' if table != "build"
                             else 'write it as [build] with wheelhouse = "DIR" and ca-cert = "FILE"')
        for key, value in values.items():
            if not isinstance(value, str):
                raise InputError(f"{path}: [{table}] {key} must be a string, got {type(value).__name__} {value!r}",
                                 f'quote it: "{key}" = "{value}"')
    return path, data
