"""doctor's answer to "what can this GPU run": torch wheel variants, dockyard targets and compiled add-ons,
on recorded nvidia-smi and rocminfo outputs."""

from __future__ import annotations

from diagnose_helpers import Machine, fixture, gpu_machine, meminfo, this_machine

from dockyard.diagnose.capability import Capability, nvidia_capability
from dockyard.diagnose.doctor import Report, run_doctor


def capability(report: Report) -> tuple[Capability, str, str]:
    check = next(c for c in report.checks if c.name == "gpu-capability")
    assert report.capability is not None
    return report.capability, check.status, check.detail


def test_h100_on_r570() -> None:
    machine = gpu_machine("nvidia_smi_query_h100.csv", "nvidia_smi_h100.txt")
    found, status, detail = capability(run_doctor(machine.host()))
    assert status == "ok" and found.archs == ("9.0",)
    assert found.variants == ("cu118", "cu121", "cu124", "cu126", "cu128", "cu129")
    assert found.targets["cuda"].variants == found.variants
    assert found.addons["flash-attn"].variants == ("cu121", "cu124", "cu126", "cu128", "cu129"), "FA2 needs CUDA 12"
    assert found.addons["deepspeed"].variants == found.variants
    assert "bitsandbytes" not in found.addons, "only add-ons compiled for the arch are listed"
    assert detail.startswith("nvidia 9.0: torch wheels cu118, cu121, cu124, cu126, cu128, cu129\n")
    assert "targets: cuda with cu118" in detail and "; cpu; intel-cpu" in detail
    assert "flash-attn with cu121, cu124, cu126, cu128, cu129" in detail


def test_v100_gets_no_flash_attention() -> None:
    machine = gpu_machine("nvidia_smi_query_v100.csv", "nvidia_smi_v100.txt")
    found, status, detail = capability(run_doctor(machine.host()))
    assert status == "ok" and found.archs == ("7.0",)
    assert "cu130" not in found.variants
    flash = found.addons["flash-attn"]
    assert flash.variants == () and "flash-attn supports sm 8.0 and newer only" in flash.reason
    assert "add-ons that do not: not flash-attn (" in detail


def test_rtx5090_on_r580_keeps_deepspeed_on_cuda_12() -> None:
    found, _, _ = capability(run_doctor(gpu_machine("nvidia_smi_query_rtx5090.csv", "nvidia_smi_rtx5090.txt").host()))
    assert found.variants == ("cu128", "cu129", "cu130", "cu132")
    assert found.addons["deepspeed"].variants == ("cu128", "cu129"), "DeepSpeed's op builder fails on CUDA 13"
    # resolve picks the newest Python for cu132's torch, which flash-attn has no release for: doctor
    # finds a Python that works instead of saying no
    assert found.addons["flash-attn"].variants == ("cu128", "cu129", "cu130", "cu132")


def test_old_driver_that_runs_no_variant_for_the_gpu() -> None:
    """A 470 driver (CUDA 11.4) with an RTX 5090 (sm_120): no wheel both runs and ships sm_120."""
    found = nvidia_capability("470.256.02", ("12.0",))
    assert found.archs == () and found.unsupported == ("12.0",) and found.variants == ()
    machine = gpu_machine("nvidia_smi_query_rtx5090.csv", "nvidia_smi_t4_470.txt")
    query = ("/usr/bin/nvidia-smi", "--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader")
    machine.answer(query, "470.256.02, 12.0, NVIDIA GeForce RTX 5090\n")
    report = run_doctor(machine.host())
    _, status, detail = capability(report)
    assert status == "fail" and "12.0: no torch wheel runs on it, left out" in detail
    assert report.failed


def rocm_report(rocminfo: str) -> Report:
    machine = Machine(files={"/proc/meminfo": meminfo(512)}, devices={"/dev/kfd", "/dev/dri"},
                      programs={"rocminfo": "/opt/rocm/bin/rocminfo"})
    machine.answer(["/opt/rocm/bin/rocminfo"], fixture(rocminfo))
    return run_doctor(machine.host())


def test_mi300x() -> None:
    found, status, detail = capability(rocm_report("rocminfo_mi300x.txt"))
    assert status == "ok" and found.vendor == "amd" and found.archs == ("gfx942",)
    assert "rocm6.4" in found.variants and "rocm7.0" in found.targets["rocm"].variants
    assert "flash-attn" in found.addons and "apex" not in found.addons, "apex is CUDA only"
    assert "targets: rocm with" in detail


def test_integrated_gpu_is_set_aside() -> None:
    found, status, detail = capability(rocm_report("rocminfo_rx7900_igpu.txt"))
    assert status == "ok" and found.archs == ("gfx1100",) and found.unsupported == ("gfx1036",)
    assert "amd gfx1100 (gfx1036: no torch wheel runs on it, left out)" in detail


def test_no_gpu_skips_and_json_has_no_capability() -> None:
    report = run_doctor(this_machine().host())
    check = next(c for c in report.checks if c.name == "gpu-capability")
    assert check.status == "skip" and "targets cpu, intel-cpu" in check.detail
    assert report.to_dict()["capability"] is None


def test_json_lists_what_runs() -> None:
    data = run_doctor(gpu_machine("nvidia_smi_query_h100.csv", "nvidia_smi_h100.txt").host()).to_dict()["capability"]
    assert data["vendor"] == "nvidia" and data["archs"] == ["9.0"] and data["unsupported"] == []
    assert data["targets"]["cuda"] == {"variants": ["cu118", "cu121", "cu124", "cu126", "cu128", "cu129"],
                                       "reason": None}
    assert list(data["addons"]) == sorted(data["addons"])
