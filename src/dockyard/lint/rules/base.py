"""What every rule module provides, and the helper that turns a hit into a Finding."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from dockyard.lint.finding import Finding, Severity
from dockyard.lint.model import DockerfileModel


class Rule(Protocol):
    """A rule module: constants plus `check`. See docs/rules/ for the generated pages."""

    CODE: str
    NAME: str
    SEVERITY: Severity
    MESSAGE: str
    FIX: str
    DOCS: str

    def check(self, model: DockerfileModel) -> Iterable[Finding]: ...


def finding(
    rule: Any,
    model: DockerfileModel,
    line: int,
    column: int = 1,
    message: str = "",
    *,
    severity: Severity | None = None,
    fix: str = "",
) -> Finding:
    """A finding of `rule` (a rule module) at line:column; `message` defaults to the rule's MESSAGE."""
    return Finding(
        code=rule.CODE,
        severity=severity or rule.SEVERITY,
        message=message or rule.MESSAGE,
        path=model.path,
        line=max(1, line),
        column=max(1, column),
        fix=fix or rule.FIX,
        name=rule.NAME,
    )
