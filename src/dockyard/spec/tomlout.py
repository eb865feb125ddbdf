"""Write TOML: the specs `dockyard import` writes and the originals' inventories (knowledge/originals/).

Only what those need: tables of tables, strings, booleans, integers, lists of strings and lists of small
tables (written inline, one per line). Every string is escaped the TOML way, so any text reads back the
same (`tomllib.loads(dumps(doc)) == doc`)."""

from __future__ import annotations

import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def quote(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}"))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    return name if _BARE.match(name) else quote(name)


def value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return quote(item)
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + " }" if item else "{}"
    if isinstance(item, (list, tuple)):
        if any(isinstance(v, dict) for v in item):
            return "[\n" + "".join(f"    {value(v)},\n" for v in item) + "]"
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def dumps(document: dict[str, Any], header: str = "") -> str:
    """`document` as TOML: plain keys first, then one [table] per dict (nested ones as [a.b])."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _table(document, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) or (path and not _is_table(v))}
    nested = {k: v for k, v in table.items() if k not in plain}
    if path and (plain or not nested):
        lines += ["", "[" + ".".join(key(p) for p in path) + "]"]
    lines += [f"{key(k)} = {value(v)}" for k, v in plain.items()]
    for name, sub in nested.items():
        _table(sub, [*path, name], lines)


def _is_table(item: dict[str, Any]) -> bool:
    """A dict below the top is written inline when it holds a few scalars or lists of them, else as a [table]."""
    nested = any(isinstance(v, dict) or (isinstance(v, (list, tuple)) and any(isinstance(x, dict) for x in v))
                 for v in item.values())
    return nested or len(item) > 3
