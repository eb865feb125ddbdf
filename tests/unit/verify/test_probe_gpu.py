"""The probe's GPU section on a fake device layer (fake_torch): what it reads of torch and the driver,
and how it judges it in report mode and against a plan."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.verify import probe

from .fake_torch import FakeTorch, Gpu

H100 = Gpu("NVIDIA H100 80GB HBM3", 9, 0)
RTX5090 = Gpu("NVIDIA GeForce RTX 5090", 12, 0, memory_gib=32)
MI300X = Gpu("AMD Instinct MI300X", 9, 4, arch="gfx942:sramecc+:xnack-", memory_gib=192)
NVIDIA_PROC = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.124.06  Thu Feb 27 04:26:21 UTC 2025\n" \
              "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
CUDA_PLAN = {"torch_build": "cuda", "cuda": "12.8", "python": "3.11"}
REPORT_PLAN = {"torch_build": "cuda", "report": True, "python": "3.11"}


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fresh results; no driver files and no nvidia-smi unless a test writes them; a tiny model that
    records the device it was asked to run on (transformers is not in the test environment)."""
    probe.RESULTS.clear()
    probe.FACTS.clear()
    monkeypatch.setattr(probe, "NVIDIA_DRIVER_FILE", str(tmp_path / "nvidia-version"))
    monkeypatch.setattr(probe, "AMDGPU_DRIVER_FILE", str(tmp_path / "amdgpu-version"))
    monkeypatch.setattr(probe.shutil, "which", lambda name: None)
    monkeypatch.setattr(probe, "tiny_model", lambda device: {"device": device, "generated": 11})
    monkeypatch.setattr(probe, "distribution_version", lambda name: "5.24.0")
    yield
    probe.RESULTS.clear()
    probe.FACTS.clear()


def results() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in probe.RESULTS}


def test_two_h100_with_a_cu128_wheel(tmp_path: Path) -> None:
    (tmp_path / "nvidia-version").write_text(NVIDIA_PROC)
    torch = FakeTorch(gpus=[H100, H100])
    probe.check_gpu(CUDA_PLAN, torch)
    found = results()
    assert found["GPU visible"]["ok"] and found["GPU visible"]["actual"] == 2
    assert found["GPU visible"]["detail"] == "0: NVIDIA H100 80GB HBM3, 1: NVIDIA H100 80GB HBM3"
    assert found["GPU 0 arch in torch"]["ok"] and found["GPU 0 arch in torch"]["expected"] == "sm_90"
    assert found["GPU bf16"]["actual"] is True
    assert found["NCCL available"]["ok"] and found["NCCL available"]["actual"] == "2.27.3"
    assert found["GPU matmul"]["ok"] and found["GPU bf16 matmul"]["ok"]
    assert found["tiny model on GPU"]["ok"]
    assert torch.devices_used == ["cuda/None", "cuda/bfloat16"]
    facts = probe.FACTS["gpu"]
    assert facts["driver"] == {"nvidia": "570.124.06"}
    assert facts["devices"][1] == {"index": 1, "name": H100.name, "capability": "9.0", "arch": "", "memory_gib": 80.0}
    assert all(r["ok"] for r in probe.RESULTS)


def test_blackwell_on_a_wheel_without_its_arch() -> None:
    """A cu126 wheel (sm_50..sm_90, no PTX) on an RTX 5090 (sm_120): the arch check fails and says what to do."""
    torch = FakeTorch(version="2.9.1+cu126", cuda="12.6", gpus=[RTX5090],
                      arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"))
    probe.judge_gpu({**CUDA_PLAN, "cuda": "12.6"}, probe.gpu_facts(torch))
    arch = results()["GPU 0 arch in torch"]
    assert not arch["ok"] and arch["expected"] == "sm_120"
    assert "has no kernels for NVIDIA GeForce RTX 5090" in arch["detail"] and "dockyard doctor" in arch["detail"]


def test_ptx_covers_a_newer_gpu() -> None:
    torch = FakeTorch(gpus=[RTX5090], arch_list=("sm_80", "sm_90", "compute_90"))
    probe.judge_gpu(CUDA_PLAN, probe.gpu_facts(torch))
    assert results()["GPU 0 arch in torch"]["ok"]


def test_mi300x_with_a_rocm_wheel(tmp_path: Path) -> None:
    (tmp_path / "amdgpu-version").write_text("6.10.5\n")
    torch = FakeTorch(version="2.9.1+rocm6.4", cuda=None, hip="6.4.43482", gpus=[MI300X],
                      arch_list=("gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1100"))
    probe.check_gpu({"torch_build": "rocm", "rocm": "6.4", "python": "3.11"}, torch)
    found = results()
    assert found["GPU 0 arch in torch"]["ok"] and found["GPU 0 arch in torch"]["expected"] == "gfx942"
    assert found["RCCL available"]["ok"]
    assert probe.FACTS["gpu"]["backend"] == "rocm" and probe.FACTS["gpu"]["driver"] == {"amdgpu": "6.10.5"}
    assert found["tiny model on GPU"]["ok"]


def test_cuda_wheel_without_a_gpu_fails_a_plan_but_not_a_report() -> None:
    probe.check_gpu(CUDA_PLAN, FakeTorch())
    visible = results()["GPU visible"]
    assert not visible["ok"] and visible["actual"] == 0
    assert visible["detail"] == ("no GPU: torch is a cuda build but sees no device (no GPU driver loaded on "
                                 "this machine)")
    assert "GPU matmul" not in results()
    probe.RESULTS.clear()
    probe.check_gpu(REPORT_PLAN, FakeTorch())
    assert results()["GPU visible"]["ok"]


def test_driver_loaded_but_no_device_says_how_to_pass_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nvidia-version").write_text(NVIDIA_PROC)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HIP_VISIBLE_DEVICES", raising=False)
    probe.check_gpu(CUDA_PLAN, FakeTorch())
    assert "driver nvidia 570.124.06 loaded; in a container, pass the GPUs" in results()["GPU visible"]["detail"]


def test_nccl_missing_and_no_bf16() -> None:
    probe.check_gpu(REPORT_PLAN, FakeTorch(gpus=[Gpu("Tesla V100-SXM2-32GB", 7, 0)], nccl=None, bf16=False,
                                           arch_list=("sm_70", "sm_80")))
    found = results()
    assert not found["NCCL available"]["ok"] and "torch.distributed" in found["NCCL available"]["detail"]
    assert found["GPU bf16"]["ok"] and found["GPU bf16"]["actual"] is False
    assert "GPU bf16 matmul" not in found


def test_cpu_torch_reports_no_gpu() -> None:
    probe.check_gpu({"torch_build": "cpu", "python": "3.11"}, FakeTorch(version="2.13.0+cpu", cuda=None))
    assert results()["GPU visible"] == {"name": "GPU visible", "ok": True, "expected": None, "actual": 0,
                                        "detail": "no GPU: torch is a CPU build"}
    assert probe.FACTS["gpu"]["backend"] == "cpu" and probe.FACTS["gpu"]["nccl"] is None


def test_driver_from_nvidia_smi_when_proc_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 580.95.05\necho 580.95.05\n")
    smi.chmod(0o755)
    monkeypatch.setattr(probe.shutil, "which", lambda name: str(smi) if name == "nvidia-smi" else None)
    assert probe.read_driver() == {"nvidia": "580.95.05"}


def test_tpu_matmul_through_torch_xla(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    xla_model = types.ModuleType("torch_xla.core.xla_model")
    xla_model.xla_device = lambda: "xla:0"  # type: ignore[attr-defined]
    for name, module in (("torch_xla", types.ModuleType("torch_xla")), ("torch_xla.core", types.ModuleType("x")),
                         ("torch_xla.core.xla_model", xla_model)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys.modules["torch_xla.core"], "xla_model", xla_model, raising=False)
    monkeypatch.setattr(sys.modules["torch_xla"], "core", sys.modules["torch_xla.core"], raising=False)
    torch = FakeTorch(version="2.9.0+cpu", cuda=None)
    probe.check_gpu({"target": "tpu", "torch_build": "cpu"}, torch)
    assert results()["TPU matmul"] == {"name": "TPU matmul", "ok": True, "expected": True, "actual": "xla:0",
                                       "detail": ""}
    assert torch.devices_used == ["xla:0/None"]


def test_report_mode_finds_a_tpu_vm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "distribution_version", lambda name: None if name == "torch" else "2.9.0")
    monkeypatch.setenv("PJRT_DEVICE", "TPU")
    assert probe.installed_plan()["target"] == "tpu"
    monkeypatch.delenv("PJRT_DEVICE")
    monkeypatch.delenv("TPU_ACCELERATOR_TYPE", raising=False)
    if not Path("/dev/accel0").exists():
        assert probe.installed_plan()["target"] is None


def test_a_failing_device_step_is_recorded_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(device: str) -> dict[str, Any]:
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(probe, "tiny_model", broken)
    probe.check_gpu(CUDA_PLAN, FakeTorch(gpus=[H100]))
    found = results()
    assert found["GPU matmul"]["ok"] and found["GPU bf16 matmul"]["ok"]
    assert not found["tiny model on GPU"]["ok"] and "no kernel image" in found["tiny model on GPU"]["detail"]


def test_image_without_torch_gets_no_gpu_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`verify IMAGE --gpus` on an image with torch = "none" runs no GPU probe (nothing to import)."""
    import json

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"python": "3.11", "torch_build": "none", "imports": [], "versions": {}}))
    probe.main(["--plan", str(plan), "--gpu"])
    names = [c["name"] for c in json.loads(capsys.readouterr().out)["checks"]]
    assert "gpu" not in names and "GPU visible" not in names


def test_rocm_arch_list_with_feature_suffixes() -> None:
    torch = FakeTorch(cuda=None, hip="6.4.43482", gpus=[MI300X], arch_list=("gfx90a:xnack-", "gfx942:xnack-"))
    probe.judge_gpu({"torch_build": "rocm"}, probe.gpu_facts(torch))
    assert results()["GPU 0 arch in torch"]["ok"]
