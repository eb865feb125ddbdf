"""The text of an Apptainer definition, safe by construction: sections whose lines no value can break,
comments that no text can end early, shell values single-quoted, %files paths and header values that
hold no whitespace, and a final scan that the definition opens exactly the sections dockyard wrote
(a `%setup` section would run on the host)."""

from __future__ import annotations

import re
import shlex
import unicodedata

from dockyard.errors import InputError
from dockyard.spec.references import comment_lines, refuse_breaks

INDENT = "    "
SECTION_LINE = re.compile(r"^\s*%[A-Za-z]")  # what Apptainer could take for a section, indented or not
_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def section(name: str, lines: list[str]) -> str:
    """A section: every line of it indented, none able to open a section of its own (values never carry
    a line break: `refuse_breaks` runs on each before it is put on a line)."""
    body = "\n".join(f"{INDENT}{line}".rstrip() for line in lines)
    return f"%{name}\n{body}"


def comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in comment_lines(text))


def export(name: str, value: str) -> str:
    """`export NAME='value'`: the value single-quoted, never spliced into shell text."""
    if not _SHELL_NAME.match(name):
        raise InputError(f"{name!r} is not an environment variable name")
    return f"export {name}={shlex.quote(refuse_breaks(value, f'the value of {name}'))}"


def files_path(value: str, where: str) -> str:
    """A path on a %files line, where whitespace separates source and destination."""
    if not value or any(c.isspace() for c in value) or any(unicodedata.category(c) == "Cc" for c in value):
        raise InputError(f"{where}: {value!r} has spaces or control characters, which a %files line cannot hold",
                         "use a folder whose path has no spaces")
    return value


def header_value(value: str, where: str) -> str:
    if any(c.isspace() for c in value):
        raise InputError(f"{where}: {value!r} has spaces or line breaks, which a definition header cannot hold")
    return value


def check_structure(text: str, sections: list[str]) -> None:
    """The sections a definition opens are exactly the ones dockyard wrote: no value opened another."""
    found = [line.strip()[1:] for line in text.splitlines() if SECTION_LINE.match(line)]
    if found != sections:
        raise InputError(f"the Apptainer definition would open sections {found}, not {sections}: a value "
                         "carries text that starts a section", "report this: every value is checked before")
