"""A small writer for the HCL that docker buildx bake reads: blocks, attributes, strings, lists, maps.

Values are typed so that quoting is never guessed: `Lit` is text from a spec (its `${` and `%{` are
escaped so bake does not interpolate them), `Tpl` is a template dockyard writes on purpose (its `${VAR}`
refer to bake variables), `Expr` is a raw HCL expression (a variable, a function call, a conditional).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import InputError
from dockyard.spec.references import comment_lines

INDENT = "  "
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")  # bake's own rule for target, group and variable names


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Tpl:
    text: str


@dataclass(frozen=True)
class Expr:
    text: str


Value = str | bool | int | Lit | Tpl | Expr | Sequence["Value"] | Mapping[str, "Value"]


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def literal(text: str) -> str:
    """A quoted HCL string whose content is taken as is (no interpolation)."""
    return _quote(text.replace("${", "$${").replace("%{", "%%{"))


def template(text: str) -> str:
    return _quote(text)


def value(item: Value, depth: int = 0) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str | Lit):
        return literal(item if isinstance(item, str) else item.text)
    if isinstance(item, Tpl):
        return template(item.text)
    if isinstance(item, Expr):
        return item.text
    if isinstance(item, Mapping):
        if not item:
            return "{}"
        pad = INDENT * (depth + 1)
        lines = [f"{pad}{key_name(k)} = {value(v, depth + 1)}" for k, v in item.items()]
        return "{\n" + "\n".join(lines) + "\n" + INDENT * depth + "}"
    items = [value(v, depth + 1) for v in item]
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) <= 100:
        return one_line
    pad = INDENT * (depth + 1)
    return "[\n" + "".join(f"{pad}{v},\n" for v in items) + INDENT * depth + "]"


def key_name(name: str) -> str:
    """Map keys that are not plain identifiers are quoted (label names carry dots)."""
    plain = bool(_IDENTIFIER.match(name))
    return name if plain else literal(name)  # a quoted key is a template in HCL: its `${` is escaped too


def block(kind: str, labels: Sequence[str], body: Sequence[tuple[str, Value]], comment: str = "") -> str:
    for label in labels:
        if not _LABEL.match(label):
            raise InputError(f"{label!r} is not a valid bake {kind} name", "use letters, digits, '-' and '_'")
    head = " ".join([kind, *(_quote(label) for label in labels)])
    lines = [f"# {line}".rstrip() for line in comment_lines(comment)] if comment else []
    lines.append(head + " {")
    lines += [f"{INDENT}{name} = {value(item, 1)}" for name, item in body]
    lines.append("}")
    return "\n".join(lines)
