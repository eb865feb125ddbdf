"""Shared fixtures of the unit tests: the preset list, spec files in a temporary folder, running the CLI
in-process, and the golden-file update switch (`--update-golden` or DOCKYARD_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.cli import main
from dockyard.knowledge.loader import preset_names

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "golden"
PRESETS: list[str] = preset_names()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden instead of comparing (same as DOCKYARD_UPDATE_GOLDEN=1)",
    )


def golden_update_requested(config: pytest.Config) -> bool:
    option = bool(config.getoption("--update-golden", default=False))
    return option or os.environ.get("DOCKYARD_UPDATE_GOLDEN", "") == "1"


@pytest.fixture(scope="session")
def update_golden(pytestconfig: pytest.Config) -> bool:
    """True when golden files are to be rewritten rather than compared."""
    return golden_update_requested(pytestconfig)


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


CliRunner = Callable[[Sequence[str]], CliResult]
SpecWriter = Callable[..., Path]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run `dockyard ARGS` in-process; returns the exit code and what it printed."""

    def run(argv: Sequence[str]) -> CliResult:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_spec(tmp_path: Path) -> SpecWriter:
    """Write a spec file under a temporary folder: write_spec(text, name="spec.toml") -> its path."""

    def write(text: str, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
