"""A small, deterministic YAML writer for generated workflows: block mappings and sequences, literal
block scalars for scripts, and end-of-line comments (action versions next to their pinned SHAs).

Scalars are written plain only when that is unambiguous in YAML 1.1 and 1.2 alike; anything else is a
double-quoted YAML string (`quoted`). Keys keep insertion order.

Safe by construction for workflows: a multi-line text becomes a literal block only when every line
reads back unchanged (no carriage return or other YAML line break, no leading space on the first line,
no trailing spaces), else it is quoted; comments never hold a line break (a comment line cannot end
early and start a key); and a text holding a GitHub `${{ }}` expression must be an `Expression`, text
that dockyard wrote on purpose: user text that would be evaluated by GitHub is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import InputError
from dockyard.spec.references import comment_lines, refuse_breaks

INDENT = "  "
_PLAIN = re.compile(r"^[A-Za-z0-9_./$(][A-Za-z0-9_ ./@=+,()'\-$]*$")
_EXPRESSION = re.compile(r"^\$\{\{ [^\n]* \}\}$")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
# What YAML 1.1 (PyYAML, go-yaml v2 behind kubectl) reads as a number or a date, not a string: 0x10, 0o7, 0b1,
# 010 (octal), 1_000, 1e3, .5, 2024-01-01.
_NOT_TEXT = re.compile(r"^[-+]?(?:0[xob][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+"
                       r"(?:[eE][-+]?[0-9]+)?|\.(?:inf|nan))$|^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", re.IGNORECASE)


class Expression(str):
    """Text dockyard writes that may hold GitHub `${{ }}` expressions (every other string is refused
    if it has one: GitHub evaluates them anywhere in a workflow, even in an env value)."""


@dataclass(frozen=True)
class Commented:
    """A scalar with an end-of-line comment."""

    value: str
    comment: str


Node = str | int | bool | None | Commented | Sequence["Node"] | Mapping[str, "Node"]


def scalar(value: str | int | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    _check_expression(value)
    if _plain_ok(value):
        return value
    return quoted(value)


_SAFE_RANGES = ((0x20, 0x7E), (0xA0, 0x2027), (0x202A, 0xD7FF), (0xE000, 0xFEFE), (0xFF00, 0xFFFD),
                (0x10000, 0x10FFFF))


def quoted(text: str) -> str:
    """A YAML double-quoted scalar: `\\` and `"` escaped, and every character outside YAML's printable set
    or that YAML 1.1 reads as a line break (U+0085, U+2028, U+2029) written as an escape (`\\U` for
    characters beyond the BMP, never a surrogate pair, which a YAML parser reads as two characters)."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif any(low <= code <= high for low, high in _SAFE_RANGES):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'



def _check_expression(value: str) -> None:
    if "${{" in value and not isinstance(value, Expression):
        raise InputError(f"{value!r} holds `${{{{`, which GitHub would evaluate as an expression",
                         "remove `${{` from the option or spec value: it must reach the workflow as plain text")


def comment(text: str) -> str:
    return refuse_breaks(text, "a comment in the workflow")


def _block_ok(text: str) -> bool:
    """A literal block scalar reads back as exactly this text."""
    lines = text.rstrip("\n").split("\n")
    if text.endswith("\n\n") or not lines[0] or lines[0][0] in " \t":
        return False
    return all(line == line.rstrip() and line.isprintable() for line in lines)


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip() or text.lower() in _RESERVED:
        return False
    if _EXPRESSION.match(text):
        return " #" not in text and ": " not in text
    if not _PLAIN.match(text) or text.endswith(":") or " #" in text or _NOT_TEXT.match(text):
        return False
    try:
        float(text)
        return False
    except ValueError:
        return not text.replace(".", "").replace("_", "").isdigit()


def key(name: str) -> str:
    return name if name == "on" or _plain_ok(name) else quoted(name)


def dump(node: Mapping[str, Node], header: Sequence[str] = ()) -> str:
    lines = [f"# {line}".rstrip() for entry in header for line in comment_lines(entry)]
    _mapping(node, 0, lines)
    return "\n".join(lines) + "\n"


def _inline(node: Node) -> str | None:
    """The one-line form of a node, if it has one."""
    if isinstance(node, Commented):
        return f"{scalar(node.value)}  # {comment(node.comment)}"
    if isinstance(node, str) and "\n" in node and _block_ok(node):
        _check_expression(node)
        return None
    if node is None or isinstance(node, str | int | bool):
        return scalar(node)
    if isinstance(node, Mapping) and not node:
        return "{}"
    if isinstance(node, Sequence) and not isinstance(node, str) and not node:
        return "[]"
    return None


def _block_scalar(text: str, depth: int, lines: list[str]) -> None:
    pad = INDENT * depth
    lines.extend(f"{pad}{line}".rstrip() for line in text.rstrip("\n").split("\n"))


def _mapping(node: Mapping[str, Node], depth: int, lines: list[str]) -> None:
    pad = INDENT * depth
    for name, child in node.items():
        inline = _inline(child)
        if inline is not None:
            lines.append(f"{pad}{key(name)}: {inline}")
        elif isinstance(child, str):
            lines.append(f"{pad}{key(name)}: |" + ("" if child.endswith("\n") else "-"))
            _block_scalar(child, depth + 1, lines)
        elif isinstance(child, Mapping):
            lines.append(f"{pad}{key(name)}:")
            _mapping(child, depth + 1, lines)
        else:
            assert isinstance(child, Sequence)
            lines.append(f"{pad}{key(name)}:")
            _sequence(child, depth + 1, lines)


def _sequence(node: Sequence[Node], depth: int, lines: list[str]) -> None:
    pad = INDENT * depth
    for child in node:
        inline = _inline(child)
        if inline is not None:
            lines.append(f"{pad}- {inline}")
        elif isinstance(child, Mapping):
            nested: list[str] = []
            _mapping(child, depth + 1, nested)
            first = nested[0][len(INDENT) * (depth + 1):]
            lines.append(f"{pad}- {first}")
            lines.extend(nested[1:])
        elif isinstance(child, str):
            lines.append(f"{pad}- |" + ("" if child.endswith("\n") else "-"))
            _block_scalar(child, depth + 1, lines)
        else:
            assert isinstance(child, Sequence)
            lines.append(f"{pad}-")
            _sequence(child, depth + 1, lines)
