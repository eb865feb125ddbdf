"""The lock, diff and audit commands as a user runs them (uv replaced by a recording script; no engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import CliRunner
from .conftest import LOCK_TEXT


@pytest.fixture
def uv_here(fake_uv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("dockyard.supply.lock.find_uv", lambda: str(fake_uv))
    return fake_uv


def test_lock_writes_the_file_and_check_tells_when_it_is_stale(run_cli: CliRunner, uv_here: Path,
                                                               tmp_path: Path, wheelhouse: Path) -> None:
    target = tmp_path / "ci.lock"
    args = ["lock", "cpu-inference", "-o", str(target), "--backend", "none", "--wheelhouse", str(wheelhouse)]
    result = run_cli(args)
    assert result.code == 0, result.err
    assert "locked 3 packages (torch 2.13.0+cpu, transformers 5.24.0)" in result.out
    assert 'add lock = "' in result.err, "says how to build from it"
    assert target.read_text().startswith("# dockyard lock 1\n")
    assert run_cli([*args, "--check"]).code == 0
    target.write_text(target.read_text().replace("filelock==4.3.1", "filelock==4.3.0"))
    stale = run_cli([*args, "--check"])
    assert stale.code == 1 and "lock out of date" in stale.err


def test_lock_of_an_unknown_spec_is_an_input_error(run_cli: CliRunner) -> None:
    result = run_cli(["lock", "cpu-inferenc", "--backend", "none"])
    assert result.code == 2 and "Traceback" not in result.err and "cpu-inference" in result.err


def test_diff_of_two_locks(run_cli: CliRunner, tmp_path: Path) -> None:
    a, b = tmp_path / "a.lock", tmp_path / "b.lock"
    a.write_text(LOCK_TEXT)
    b.write_text(LOCK_TEXT.replace("transformers==5.24.0", "transformers==5.23.0"))
    result = run_cli(["diff", str(a), str(b), "--json"])
    assert result.code == 0
    data = json.loads(result.out)
    assert data["changes"] == [{"name": "transformers", "before": "5.24.0", "after": "5.23.0", "size_before": None,
                                "size_after": None, "note": ""}]
    assert run_cli(["diff", str(a), str(b), "--exit-code"]).code == 1
    same = run_cli(["diff", str(a), str(a)])
    assert same.code == 0 and "same packages (3 unchanged)" in same.out


@pytest.mark.parametrize("args", [["--secret-value", "@/nonexistent/ca.pem"], ["--secret-env", "DOCKYARD_UNSET_X"]])
def test_audit_refuses_a_value_it_cannot_read_before_touching_the_engine(run_cli: CliRunner, args: list[str]) -> None:
    result = run_cli(["audit", "some/image", *args])
    assert result.code == 2 and "Traceback" not in result.err
    assert "cannot read" in result.err or "not set" in result.err
