"""scripts/device-check.sh runs to the end on this machine (no GPU) with a clear "no GPU" result, in
Pythons with and without dockyard's dependencies. The run with torch is in tests/engine/test_host.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ..conftest import REPO

SCRIPT = REPO / "scripts" / "device-check.sh"


def device_check(out: Path, python: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(["bash", str(SCRIPT), str(out), *args], env={**env, "PYTHON": python},
                          capture_output=True, text=True, timeout=300)


def test_no_gpu_here_with_dockyards_python(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = device_check(out, sys.executable)
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text()
    assert summary.splitlines()[0].startswith("no GPU"), summary
    probe = json.loads((out / "host_probe.json").read_text())
    assert probe["facts"]["mode"] == "report"
    doctor = json.loads((out / "doctor.json").read_text())
    found = {c["name"]: c["status"] for c in doctor["checks"]}
    assert found["nvidia-driver"] == "skip" and found["gpu-capability"] == "skip"
    assert "doctor gpu-capability: skip" in summary
    if not Path("/usr/bin/nvidia-smi").exists():
        assert "nvidia-smi\tnot installed" in summary
    assert "host probe\texit " in summary and "doctor\texit " in summary


def bare_python(tmp_path: Path, with_pip: bool) -> str:
    """A virtual environment without dockyard's dependencies (no packaging, no rich)."""
    folder = tmp_path / ("with-pip" if with_pip else "bare")
    venv.EnvBuilder(with_pip=with_pip).create(folder)
    return str(folder / "bin" / "python")


def test_python_without_packaging_or_pip_skips_doctor_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = device_check(out, bare_python(tmp_path, with_pip=False))
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text()
    assert summary.splitlines()[0].startswith("no GPU")
    assert "doctor\tskipped: " in summary and "no packaging module and no pip" in summary
    assert json.loads((out / "host_probe.json").read_text())["checks"]
    assert not (out / "doctor.json").exists()


def test_python_without_packaging_borrows_pips_copy(tmp_path: Path) -> None:
    python = bare_python(tmp_path, with_pip=True)
    if subprocess.run([python, "-c", "import pip._vendor.packaging"], capture_output=True).returncode != 0:
        pytest.skip("this pip vendors no packaging")
    out = tmp_path / "out"
    done = device_check(out, python)
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text()
    assert "doctor\tborrowed packaging from " in summary
    assert json.loads((out / "doctor.json").read_text())["checks"]


def test_bad_arguments(tmp_path: Path) -> None:
    assert device_check(tmp_path / "a", sys.executable, "extra").returncode == 2
    done = device_check(tmp_path / "b", str(tmp_path / "no-python"))
    assert done.returncode == 2 and "set PYTHON=" in done.stderr


def test_nvidia_tools_are_recorded_and_doctor_reads_them(tmp_path: Path) -> None:
    """A stand-in `nvidia-smi` answering with the recorded H100 outputs: the script saves the raw
    outputs, doctor reasons on them, and the folder replays like a committed recording."""
    fixtures = REPO / "tests" / "unit" / "diagnose" / "fixtures"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\ncase \"$1\" in\n"
                   f"  --query-gpu=*) cat {fixtures / 'nvidia_smi_query_h100.csv'} ;;\n"
                   "  -q) echo '==============NVSMI LOG==============' ;;\n"
                   f"  *) cat {fixtures / 'nvidia_smi_h100.txt'} ;;\nesac\n")
    smi.chmod(0o755)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(["bash", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHON": sys.executable, "PATH": f"{bin_dir}:{env['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert (out / "nvidia_smi_query.csv").read_text() == (fixtures / "nvidia_smi_query_h100.csv").read_text()
    summary = (out / "summary.txt").read_text()
    assert "doctor nvidia-driver: warn: driver 570.124.06 (nvidia-smi: CUDA 12.8)" in summary
    assert "doctor gpu-capability: ok: nvidia 9.0: torch wheels cu118, cu121, cu124, cu126, cu128, cu129" in summary
    assert "nvidia-smi query\texit 0" in summary
    from .test_recordings import test_doctor_replays_the_recorded_tool_outputs

    test_doctor_replays_the_recorded_tool_outputs(out)
