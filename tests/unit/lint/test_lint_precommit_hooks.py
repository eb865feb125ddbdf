"""The pre-commit hook definitions point at the real command and options."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dockyard.cli import build_parser

HOOKS = Path(__file__).resolve().parents[3] / ".pre-commit-hooks.yaml"


def _hooks() -> list[dict[str, str]]:
    """A tiny reader for this flat YAML list (no dependency on a YAML library)."""
    hooks: list[dict[str, str]] = []
    for raw in HOOKS.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        key, _, value = line.strip().partition(":")
        hooks[-1][key.strip()] = value.strip()
    return hooks


def test_hooks_run_dockyard_lint(tmp_path: Path) -> None:
    hooks = _hooks()
    assert [h["id"] for h in hooks] == ["dockyard-lint", "dockyard-lint-ml"]
    for hook in hooks:
        assert hook["language"] == "python" and hook["types"] == "[dockerfile]"
        argv = shlex.split(hook["entry"])
        assert argv[:2] == ["dockyard", "lint"]
        args = build_parser().parse_args([*argv[1:], str(tmp_path / "Dockerfile")])
        assert args.command == "lint" and callable(args.func)


def test_hook_entry_fails_on_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli import main

    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.12-slim\n", encoding="utf-8")
    entry = shlex.split(_hooks()[1]["entry"])
    assert main([*entry[1:], str(bad)]) == 1
