"""What a Dockerfile holds, as items: the reader's output and what import and fidelity compare."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from packaging.utils import canonicalize_name

from dockyard.knowledge import accelerators as acc

# Kinds of item, in the order reports list them.
KINDS = ("base", "python", "packages", "extras", "system", "env", "args", "user", "workdir", "shell", "labels",
         "entrypoint", "cmd", "files", "steps")
KIND_TITLES = {"base": "base image", "python": "Python", "packages": "Python packages", "extras": "package extras",
               "system": "system packages", "env": "environment", "args": "build arguments", "user": "user",
               "workdir": "working directory", "shell": "shell", "labels": "labels", "entrypoint": "entrypoint",
               "cmd": "command", "files": "files copied in", "steps": "build steps"}
# Kinds that hold one value per image: the item's name is that value.
SINGLE = ("base", "python", "user", "workdir", "shell", "entrypoint", "cmd")


@dataclass(frozen=True)
class Item:
    """One thing a Dockerfile puts in (or does to) its image."""

    kind: str
    name: str  # pip names canonical; for SINGLE kinds the value itself
    value: str = ""  # a version specifier or pin, an env or ARG value, a requirement's URL
    line: int = 0
    final: bool = True  # reaches the final image (False: a build stage only, removed later, a branch not taken)
    detail: str = ""  # how: the index, the stage it was copied from, what removed it

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


@dataclass(frozen=True)
class Inventory:
    """Every item of one Dockerfile, in file order; `problems` says what could not be read at all."""

    source: str
    items: tuple[Item, ...] = ()
    problems: tuple[str, ...] = ()

    def final(self, kind: str) -> dict[str, Item]:
        """Name -> item, for the items of a kind that reach the final image (the last one of a name wins)."""
        return {i.name: i for i in self.items if i.kind == kind and i.final}

    def of(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON or TOML): defaults left out, so `inventory_from_dict` reads it back the same."""
        defaults = {"value": "", "line": 0, "final": True, "detail": ""}
        rows = [{k: v for k, v in asdict(item).items() if k not in defaults or v != defaults[k]
                 or type(v) is not type(defaults[k])} for item in self.items]
        return {"source": self.source, "problems": list(self.problems), "items": rows}


def inventory_from_dict(data: dict[str, Any]) -> Inventory:
    items = tuple(Item(kind=str(row["kind"]), name=str(row["name"]), value=str(row.get("value", "")),
                       line=int(row.get("line", 0)), final=bool(row.get("final", True)),
                       detail=str(row.get("detail", "")))
                  for row in data.get("items", []))
    return Inventory(str(data.get("source", "")), items, tuple(str(p) for p in data.get("problems", [])))


def package_name(name: str) -> str:
    return str(canonicalize_name(name))



_INDEX = re.compile(r"--(?:extra-)?index-url (\S+)")


def wheel_variant(item: Item) -> acc.WheelVariant | None:
    """The wheel variant of a package from the PyTorch index: its local version (`+cu126`), else the index
    it was installed from (the item's detail names it); None for PyPI and other indexes."""
    local = acc.variant_from_local(item.value)
    if local is not None:
        return local
    for url in _INDEX.findall(item.detail):
        found = acc.variant_from_index(url)
        if found is not None:
            return found
    return None
