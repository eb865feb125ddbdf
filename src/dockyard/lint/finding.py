"""The finding model shared by every rule, the hadolint runner and the output formats."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


def severity_rank(severity: str) -> int:
    """Order severities: info < warning < error."""
    return _RANK.get(severity, 0)


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    `message` says what is wrong, `fix` what to do instead. `source` is "dockyard" for the
    DY rules and "hadolint" for findings merged from hadolint (DL and SC codes).
    """

    code: str
    severity: Severity
    message: str
    path: str = "Dockerfile"
    line: int = 1
    column: int = 1
    fix: str = ""
    name: str = ""
    source: str = "dockyard"

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.code, self.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "source": self.source,
        }
