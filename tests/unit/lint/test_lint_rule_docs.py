"""Every rule module has the required constants, and the Bad/Good examples in its DOCS behave:
the Bad example is caught by the rule, the Good one is not. Also: docs/rules/ matches the modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lint_helpers import codes

from dockyard.lint.docs import DEFAULT_DIR, drift, main, render
from dockyard.lint.rules import RULES

_BLOCK = re.compile(r"(Bad|Good):\s*\n\s*```dockerfile\n(.*?)```", re.S)


def _examples(docs: str) -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in _BLOCK.findall(docs)]


def _runnable(body: str) -> str:
    """Examples may omit FROM and USER to stay short; add them so that only the example's rule fires."""
    text = body
    if not re.search(r"^FROM ", text, re.M):
        text = "FROM python:3.12-slim\n" + text
    return text


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_module_contract(code: str) -> None:
    rule = RULES[code]
    assert code == rule.CODE
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.NAME), rule.NAME
    assert rule.SEVERITY in ("error", "warning", "info")
    assert rule.MESSAGE and rule.FIX and rule.DOCS
    assert callable(rule.check)
    kinds = [kind for kind, _ in _examples(rule.DOCS)]
    assert "Bad" in kinds and "Good" in kinds, f"{code}: DOCS needs a Bad and a Good example"


def test_names_and_codes_are_unique() -> None:
    names = [rule.NAME for rule in RULES.values()]
    assert len(names) == len(set(names))
    assert list(RULES) == sorted(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_docs_examples(code: str) -> None:
    for kind, body in _examples(RULES[code].DOCS):
        found = codes(_runnable(body))
        if kind == "Bad":
            assert code in found, f"{code}: Bad example not caught:\n{body}"
        else:
            assert code not in found, f"{code}: Good example caught:\n{body}"


def test_committed_docs_match_rule_modules() -> None:
    """docs/rules/ is generated; regenerate with `python -m dockyard.lint.docs` when this fails."""
    assert Path(__file__).resolve().parents[3] / "docs" / "rules" == DEFAULT_DIR
    assert drift(DEFAULT_DIR) == []


def test_docs_generator_writes_and_checks(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--check"]) == 1
    (tmp_path / "stale.md").write_text("old", encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render())
    assert main([str(tmp_path), "--check"]) == 0
    (tmp_path / "DY101.md").write_text("edited by hand", encoding="utf-8")
    assert drift(tmp_path) == ["DY101.md"]
