"""Replay every recording of scripts/device-check.sh in tests/fixtures/device-check/ (one folder per
machine; see its README): the probe's GPU judgement from the recorded device facts, doctor's parsers on
the recorded nvidia-smi/rocminfo outputs, and doctor's capability answer from the recorded GPU facts must
give what the machine gave. A new recording is picked up without code changes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dockyard.diagnose.capability import gpu_capability
from dockyard.diagnose.facts import Facts
from dockyard.verify import probe
from dockyard.verify.host import driver_result

from ..conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "unit" / "diagnose"))
from diagnose_helpers import Machine

from dockyard.diagnose.gpu_facts import gather_gpu

RECORDINGS = sorted(p for p in (REPO / "tests" / "fixtures" / "device-check").iterdir() if p.is_dir())
NVIDIA_QUERY = ["/usr/bin/nvidia-smi", "--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader"]
COMPUTED = ("GPU matmul", "GPU bf16 matmul", "tiny model on GPU")  # ran on the device; not replayable


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


def answer(machine: Machine, argv: list[str], folder: Path, file: str, step: str) -> None:
    """The recorded output, error output and exit code of one command."""
    stderr = folder / f"{file}.stderr"
    machine.answer(argv, (folder / file).read_text(), exit_code(folder, step),
                   stderr.read_text() if stderr.exists() else "")


def exit_code(folder: Path, step: str) -> int:
    for line in (folder / "steps.txt").read_text().splitlines():
        name, _, rest = line.partition("\t")
        if name == step and rest.startswith("exit "):
            return int(rest.split()[1])
    raise AssertionError(f"{folder.name}: no step {step!r} in steps.txt")


def test_there_is_a_recording() -> None:
    assert RECORDINGS, "tests/fixtures/device-check/ holds at least the dev machine's recording"


@pytest.mark.parametrize("folder", RECORDINGS, ids=lambda p: p.name)
def test_probe_gpu_judgement_replays(folder: Path) -> None:
    recorded = load(folder, "host_probe.json")
    gpu = recorded["facts"].get("gpu")
    if gpu is None:
        pytest.skip(f"{folder.name}: torch was not installed where it was recorded")
    probe.RESULTS.clear()
    probe.judge_gpu({"report": True, "torch_build": gpu["backend"]}, gpu)
    replayed = [(r["name"], r["ok"], r["actual"]) for r in probe.RESULTS]
    probe.RESULTS.clear()
    names = {name for name, _, _ in replayed}
    original = [(r["name"], r["ok"], r["actual"]) for r in recorded["checks"]
                if r["name"] in names and r["name"] not in COMPUTED]
    assert replayed == original
    driver = driver_result(gpu)
    if gpu["backend"] == "cuda" and gpu["driver"].get("nvidia"):
        assert driver is not None and driver.actual == gpu["driver"]["nvidia"]
    else:
        assert driver is None


@pytest.mark.parametrize("folder", RECORDINGS, ids=lambda p: p.name)
def test_doctor_replays_the_recorded_tool_outputs(folder: Path) -> None:
    if not (folder / "doctor.json").exists():
        pytest.skip(f"{folder.name}: doctor did not run where it was recorded")
    recorded = load(folder, "doctor.json")
    machine = Machine()
    if (folder / "nvidia_smi_query.csv").exists():
        machine.programs["nvidia-smi"] = NVIDIA_QUERY[0]
        machine.devices |= {"/dev/nvidiactl", "/dev/nvidia0"}
        answer(machine, NVIDIA_QUERY, folder, "nvidia_smi_query.csv", "nvidia-smi query")
        answer(machine, NVIDIA_QUERY[:1], folder, "nvidia_smi.txt", "nvidia-smi")
    if (folder / "rocminfo.txt").exists():
        machine.programs["rocminfo"] = "/opt/rocm/bin/rocminfo"
        machine.devices |= {"/dev/kfd", "/dev/dri"}
        answer(machine, ["/opt/rocm/bin/rocminfo"], folder, "rocminfo.txt", "rocminfo")
    replayed = gather_gpu(machine.host(), {})
    nvidia = recorded["facts"]["gpu"]["nvidia"]
    assert replayed["nvidia"]["present"] == nvidia["present"]
    assert (replayed["nvidia"]["driver"], replayed["nvidia"]["gpus"]) == (nvidia["driver"], nvidia["gpus"])
    assert replayed["rocm"]["gpus"] == recorded["facts"]["gpu"]["rocm"]["gpus"]
    capability = gpu_capability(Facts(gpu=recorded["facts"]["gpu"]))
    assert (None if capability is None else capability.to_dict()) == recorded["capability"]


@pytest.mark.parametrize("folder", RECORDINGS, ids=lambda p: p.name)
def test_probe_and_doctor_see_the_same_gpus(folder: Path) -> None:
    gpu = load(folder, "host_probe.json")["facts"].get("gpu") or {}
    if not (folder / "doctor.json").exists() or gpu.get("backend") != "cuda":
        pytest.skip(f"{folder.name}: no CUDA recording with doctor")
    nvidia = load(folder, "doctor.json")["facts"]["gpu"]["nvidia"]
    assert [d["name"] for d in gpu["devices"]] == [g["name"] for g in nvidia["gpus"]]
    assert [d["capability"] for d in gpu["devices"]] == [g["compute_cap"] for g in nvidia["gpus"]]
