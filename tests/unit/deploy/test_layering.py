"""Imports run one way: only the CLI (and deploy itself) may import dockyard.deploy."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "dockyard"
ALLOWED = ("deploy", "cli")


def test_nothing_below_imports_deploy() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        top = path.relative_to(SRC).parts[0]
        if top in ALLOWED:
            continue
        if re.search(r"^\s*(from|import) dockyard\.deploy\b", path.read_text(encoding="utf-8"), re.MULTILINE):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_deploy_imports_only_lower_layers() -> None:
    for path in sorted((SRC / "deploy").glob("*.py")):
        used = set(re.findall(r"^\s*(?:from|import) dockyard\.(\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
        assert "cli" not in used, f"{path.name} imports the CLI"
