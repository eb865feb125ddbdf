"""`dockyard lint`: an ML-aware Dockerfile linter on top of hadolint.

Library API (no terminal output): `lint_text(text, path, config)`, `lint_paths(paths, config)`,
`lint_report(paths, config)`, `LintConfig`, `Finding`, and `RULES` (code -> rule module).
"""

from __future__ import annotations

from dockyard.lint.engine import LintConfig, LintReport, lint_paths, lint_report, lint_text
from dockyard.lint.finding import Finding, Severity
from dockyard.lint.rules import RULES

__all__ = [
    "RULES",
    "Finding",
    "LintConfig",
    "LintReport",
    "Severity",
    "lint_paths",
    "lint_report",
    "lint_text",
]
