"""Helpers for the lint tests: lint a snippet with dockyard's own rules and get its codes."""

from __future__ import annotations

from pathlib import Path

from dockyard.lint import Finding, LintConfig, lint_text

CASES = Path(__file__).parent / "cases"


def findings(text: str, **config: object) -> list[Finding]:
    return lint_text(text, "Dockerfile", LintConfig(**config))  # type: ignore[arg-type]


def codes(text: str, **config: object) -> set[str]:
    return {f.code for f in findings(text, **config)}
