"""Pre-scan of the raw text for what the BuildKit parser drops: parser directives and comments.

Directives (`# syntax=`, `# escape=`, `# check=`) are only honoured at the very top of a file, before
any comment, blank line or instruction (BuildKit's rule). Suppression comments:

- `# dockyard: ignore=DY109,DL3008` applies to the next instruction (or, written inside a multi-line
  instruction, to that instruction);
- `# dockyard: ignore-file=DY109` applies to the whole file, wherever it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_SUPPRESS = re.compile(r"^\s*#\s*dockyard\s*:\s*(ignore|ignore-file)\s*=\s*([A-Za-z0-9_,\s]+?)\s*$", re.I)
_CODE = re.compile(r"^[A-Z]{2}\d{3,4}$")
KNOWN_DIRECTIVES = ("syntax", "escape", "check")


@dataclass
class PreScan:
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    # line number of the comment -> codes it suppresses (resolved to instructions by the model)
    line_suppressions: dict[int, set[str]] = field(default_factory=dict)
    file_suppressions: set[str] = field(default_factory=set)


def _codes(raw: str) -> set[str]:
    return {c.strip().upper() for c in raw.replace(" ", ",").split(",") if _CODE.match(c.strip().upper())}


def prescan(lines: list[str]) -> PreScan:
    """Read directives from the top of the file and suppression comments from anywhere."""
    result = PreScan()
    in_header = True
    for number, raw in enumerate(lines, start=1):
        line = raw.lstrip("\ufeff") if number == 1 else raw
        if in_header:
            match = _DIRECTIVE.match(line.strip()) if line.strip().startswith("#") else None
            if match and match.group(1).lower() in KNOWN_DIRECTIVES:
                key = match.group(1).lower()
                if key not in result.directives:  # BuildKit: a repeated directive is invalid; keep the first
                    result.directives[key] = match.group(2)
                continue
            in_header = False
        suppress = _SUPPRESS.match(line)
        if suppress:
            codes = _codes(suppress.group(2))
            if suppress.group(1).lower() == "ignore-file":
                result.file_suppressions |= codes
            else:
                result.line_suppressions.setdefault(number, set()).update(codes)
    escape = result.directives.get("escape", "\\")
    result.escape = "`" if escape == "`" else "\\"
    return result
