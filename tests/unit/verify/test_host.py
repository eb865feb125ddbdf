"""`dockyard verify --host`: the probe run for real in this test's Python (which has no torch), the
driver judged against the knowledge base, and the command line's argument errors."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from dockyard.errors import InputError
from dockyard.verify.host import driver_result, load_plan_file, verify_host

from ..conftest import CliRunner

NO_TORCH = importlib.util.find_spec("torch") is None
needs_no_torch = pytest.mark.skipif(not NO_TORCH, reason="this test's Python has torch")


def gpu(cuda: str | None, driver: str | None) -> dict[str, object]:
    return {"backend": "cuda" if cuda else "cpu", "cuda": cuda, "driver": {"nvidia": driver} if driver else {}}


@pytest.mark.parametrize(("cuda", "driver", "ok", "words"), [
    ("12.8", "570.124.06", True, "runs CUDA 12.8 natively (>= 570.26)"),
    ("12.9", "570.124.06", True, "through minor-version compatibility only (native from 575.51.03"),
    ("13.0", "570.124.06", False, "too old for CUDA 13.0: update the driver to >= 580.65.06"),
    ("11.8", "470.256.02", True, "minor-version compatibility"),
    ("13.0", "not-a-version", False, "too old"),
    ("9.9", "570.124.06", False, "no driver minimum for CUDA 9.9"),
])
def test_driver_against_the_cuda_minimum(cuda: str, driver: str, ok: bool, words: str) -> None:
    result = driver_result(gpu(cuda, driver))
    assert result is not None
    assert (result.name, result.ok, result.actual) == ("GPU driver", ok, driver)
    assert words in result.detail


def test_no_driver_check_without_cuda_or_driver() -> None:
    assert driver_result(gpu(None, "570.124.06")) is None
    assert driver_result(gpu("12.8", None)) is None
    assert driver_result({}) is None


def test_plan_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_plan_file(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_plan_file(str(bad))
    bad.write_text('{"name": "x"}')
    with pytest.raises(InputError, match=r"lacks python, torch_build; it is not a dockyard plan\.json"):
        load_plan_file(str(bad))


@needs_no_torch
def test_report_mode_in_an_environment_without_torch() -> None:
    report = verify_host()
    assert report.ok, report.failures()
    names = [r.name for r in report.results]
    assert names[0] == "python version" and "import torch" not in names
    visible = next(r for r in report.results if r.name == "GPU visible")
    assert visible.detail == "no GPU probes: torch is not installed in this environment"
    assert report.facts["mode"] == "report" and "pytest" in report.facts["installed"]
    assert report.to_json()["host"] == report.facts["python"]


@needs_no_torch
def test_plan_mode_fails_on_what_is_missing() -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    report = verify_host({"python": python, "torch_build": "cuda", "cuda": "12.8", "non_root": True})
    failed = {r.name: r for r in report.failures()}
    assert set(failed) >= {"import torch", "torch build"}
    assert "runs as non-root" not in [r.name for r in report.results], "the host's user is not checked"
    assert "No module named 'torch'" in failed["import torch"].detail


def test_cli_argument_errors(run_cli: CliRunner, tmp_path: Path) -> None:
    for argv, words in [
        (["verify"], "nothing to verify"),
        (["verify", "some/image", "--host"], "not both"),
        (["verify", "some/image", "--plan", "plan.json"], "--plan goes with --host"),
        (["verify", "--host", "--spec", "cpu-inference", "--plan", "plan.json"], "--spec or --plan, not both"),
        (["verify", "--host", "--gpus"], "--gpus is for images"),
        (["verify", "--host", "--plan", str(tmp_path / "nope.json")], "no such file"),
    ]:
        result = run_cli(argv)
        assert result.code == 2, argv
        assert words in result.err and "Traceback" not in result.err


@needs_no_torch
def test_cli_json_and_a_failing_plan(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli(["verify", "--host", "--json"])
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["ok"] and data["mode"] == "report" and data["facts"]["installed"]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"python": "3.99", "torch_build": "none", "versions": {}, "imports": []}))
    result = run_cli(["verify", "--host", "--plan", str(plan)])
    assert result.code == 1
    assert "python version" in result.out and "3.99" in result.out
    assert "probe(s) failed" in result.err
