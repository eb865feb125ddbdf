"""Which knowledge folder dockyard reads, and what it is.

The folder installed with dockyard is the default. A site can point dockyard at a newer one without
upgrading the tool (`dockyard --knowledge DIR`, `$DOCKYARD_KNOWLEDGE`, `knowledge = "DIR"` in the site
config; the CLI picks and calls `use_knowledge`). A chosen folder must hold every table file of the
installed one, each valid against the same schema (knowledge/schema.py), and declare a `schema` this
dockyard reads; anything else is refused with the file, the key and what to do, before a table loads.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dockyard.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGED_DIR = Path(str(resources.files("dockyard") / "knowledge"))
MANIFEST = "knowledge.toml"
REFRESH_HINT = ("refresh it with `python scripts/refresh_knowledge.py` in a dockyard checkout (then review and "
                "commit the diff), or point dockyard at a newer knowledge folder: `dockyard --knowledge DIR ...` "
                "or `knowledge = \"DIR\"` in ~/.config/dockyard/config.toml")

_selected: Path | None = None


@dataclass(frozen=True)
class Manifest:
    """knowledge.toml: the folder's schema, version and the day its PyPI-derived tables were refreshed."""

    folder: Path
    schema: int
    version: str
    refreshed: dt.date
    tracked: dict[str, dict[str, Any]]

    def describe(self) -> str:
        where = "installed with dockyard" if self.folder == PACKAGED_DIR else str(self.folder)
        return f"knowledge {self.version} ({where}), refreshed from PyPI on {self.refreshed.isoformat()}"

    def age_days(self, today: dt.date) -> int:
        return (today - self.refreshed).days


def knowledge_dir() -> Path:
    return _selected or PACKAGED_DIR


def table_files(folder: Path = PACKAGED_DIR) -> list[str]:
    return sorted(p.name for p in folder.glob("*.toml"))


def read(name: str, folder: Path | None = None) -> dict[str, Any]:
    """One file of the knowledge folder, parsed."""
    with ((folder or knowledge_dir()) / name).open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
        return data


def manifest(folder: Path | None = None) -> Manifest:
    folder = folder or knowledge_dir()
    data = read(MANIFEST, folder)
    return Manifest(folder, int(data["schema"]), str(data["version"]), dt.date.fromisoformat(data["refreshed"]),
                    {name: dict(row) for name, row in data["tracked"].items()})


def validate(folder: Path) -> list[str]:
    """Every problem of a knowledge folder against the schema (empty when it is usable)."""
    from dockyard.knowledge import schema  # only when a folder is checked: packaging's parsers load with it

    found = []
    for name in table_files(PACKAGED_DIR):
        path = folder / name
        if not path.is_file():
            found.append(f"{name}: missing (a knowledge folder holds every file of dockyard's own: "
                         f"{', '.join(table_files(PACKAGED_DIR))})")
            continue
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            found.append(f"{name}: cannot be read: {exc}")
            continue
        except tomllib.TOMLDecodeError as exc:
            found.append(f"{name}: not valid TOML: {exc}")
            continue
        if name == MANIFEST and document.get("schema") != schema.SCHEMA:
            found.append(f"{name}: schema = {document.get('schema')!r}, but this dockyard reads schema "
                         f"{schema.SCHEMA}")
            continue
        found += schema.problems(name, document)
    return found


def use_knowledge(path: str | Path | None, origin: str = "--knowledge") -> Manifest | None:
    """Read tables from `path` from now on (None: the installed folder). Refuses an unusable folder."""
    global _selected
    if path is None:
        _selected = None
        return None
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputError(f"{origin}: {path} is not a folder",
                         "point it at a knowledge folder: a copy of dockyard's src/dockyard/knowledge with newer "
                         "tables (see docs/knowledge.md)")
    found = validate(folder.resolve())
    if found:
        shown = found[:12] + ([f"... and {len(found) - 12} more"] if len(found) > 12 else [])
        listed = "\n".join(f"  {line}" for line in shown)
        raise InputError(f"{origin}: the knowledge folder {path} does not fit this dockyard's schema:\n{listed}",
                         "fix those keys, or start from the knowledge folder of this dockyard "
                         f"({PACKAGED_DIR}) and refresh it with scripts/refresh_knowledge.py --knowledge DIR")
    _selected = folder.resolve()
    return manifest(_selected)
