"""doctor's accelerator checks, driven by recorded nvidia-smi, rocminfo and docker info outputs."""

from __future__ import annotations

import pytest
from diagnose_helpers import Machine, add_podman, fixture, gpu_machine, meminfo, this_machine

from dockyard.diagnose.doctor import Report, run_doctor
from dockyard.diagnose.gpu_facts import parse_nvidia_query, parse_nvidia_smi, parse_rocminfo


def checks(report: Report) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in report.checks}


def test_parsers_read_the_recorded_outputs() -> None:
    assert parse_nvidia_query(fixture("nvidia_smi_query_h100.csv")) == (
        "570.124.06", [{"compute_cap": "9.0", "name": "NVIDIA H100 80GB HBM3"}] * 2)
    assert parse_nvidia_smi(fixture("nvidia_smi_h100.txt")) == {"driver": "570.124.06", "cuda": "12.8"}
    assert parse_nvidia_smi(fixture("nvidia_smi_t4_470.txt")) == {"driver": "470.256.02", "cuda": "11.4"}
    assert parse_nvidia_smi(fixture("nvidia_smi_failed.txt")) == {}
    assert parse_rocminfo(fixture("rocminfo_mi300x.txt")) == [{"gfx": "gfx942", "name": "AMD Instinct MI300X"}] * 2
    assert [a["gfx"] for a in parse_rocminfo(fixture("rocminfo_rx7900_igpu.txt"))] == ["gfx1100", "gfx1036"]


def test_h100_on_a_570_driver() -> None:
    report = run_doctor(gpu_machine("nvidia_smi_query_h100.csv", "nvidia_smi_h100.txt").host())
    found = checks(report)
    status, detail, fix = found["nvidia-driver"]
    assert status == "warn"
    assert "driver 570.124.06 (nvidia-smi: CUDA 12.8): CUDA up to 12.8 natively, 12.9 with minor-version" in detail
    assert "cu118, cu121, cu124, cu126, cu128 natively" in detail
    assert "cu129 through minor-version compatibility" in detail and "not cu130, cu132" in detail
    assert "R580" in fix and "whl/cu129" in fix
    status, detail, _ = found["nvidia-arch"]
    assert status == "ok"
    assert ("NVIDIA H100 80GB HBM3 x2 (sm_90): kernels in cu118, cu121, cu124, cu126, cu128, cu129, cu130, "
            "cu132") in detail
    assert "usable with this driver: cu118, cu121, cu124, cu126, cu128, cu129" in detail
    assert "TORCH_CUDA_ARCH_LIST for extensions built for this host: 9.0" in detail
    status, detail, _ = found["nvidia-runtime"]
    assert status == "ok" and "'nvidia' runtime" in detail and "docker run --gpus all" in detail
    assert found["buildkit"][0] == "ok"
    assert not report.failed
    gpu = report.to_dict()["facts"]["gpu"]["nvidia"]
    assert gpu["driver"] == "570.124.06" and gpu["cuda"] == "12.8" and len(gpu["gpus"]) == 2


def test_v100_has_no_kernels_in_cuda13_wheels() -> None:
    found = checks(run_doctor(gpu_machine("nvidia_smi_query_v100.csv", "nvidia_smi_v100.txt").host()))
    status, detail, fix = found["nvidia-arch"]
    assert status == "warn"
    assert "Tesla V100-SXM2-32GB x4 (sm_70): kernels in cu118, cu121, cu124, cu126, cu128, cu129;" in detail
    assert "cu130/cu132 wheels have no kernels for sm_70" in fix and "cu129" in fix
    assert found["nvidia-driver"][0] == "warn"
    assert "CUDA up to 12.2 natively" in found["nvidia-driver"][1]


def test_rtx5090_on_an_r580_driver() -> None:
    found = checks(run_doctor(gpu_machine("nvidia_smi_query_rtx5090.csv", "nvidia_smi_rtx5090.txt").host()))
    status, detail, _ = found["nvidia-driver"]
    assert status == "ok"
    assert "CUDA up to 13.0 natively, 13.2 with minor-version compatibility" in detail
    assert "cu132 through minor-version compatibility" in detail
    status, detail, _ = found["nvidia-arch"]
    assert status == "ok" and "(sm_120): kernels in cu128, cu129, cu130, cu132" in detail


def test_driver_that_does_not_answer() -> None:
    machine = gpu_machine("nvidia_smi_failed.txt", "nvidia_smi_failed.txt", query_code=9, smi_code=9)
    report = run_doctor(machine.host())
    found = checks(report)
    assert report.failed
    assert found["nvidia-driver"][0] == "fail"
    assert "couldn't communicate with the NVIDIA driver" in found["nvidia-driver"][1]
    assert found["nvidia-arch"][0] == "skip"


def test_old_driver_without_compute_cap_field() -> None:
    machine = gpu_machine("nvidia_smi_query_old.txt", "nvidia_smi_t4_470.txt", query_code=2)
    found = checks(run_doctor(machine.host()))
    status, detail, _ = found["nvidia-driver"]
    assert status == "warn"
    assert "driver 470.256.02 (nvidia-smi: CUDA 11.4)" in detail
    assert "cu118 through minor-version compatibility" in detail
    assert found["nvidia-arch"][0] == "skip"


def test_gpu_without_container_runtime() -> None:
    machine = this_machine()
    machine.programs["nvidia-smi"] = "/usr/bin/nvidia-smi"
    machine.devices |= {"/dev/nvidiactl", "/dev/nvidia0"}
    machine.answer(["/usr/bin/nvidia-smi", "--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader"],
                   fixture("nvidia_smi_query_h100.csv"))
    machine.answer(["/usr/bin/nvidia-smi"], fixture("nvidia_smi_h100.txt"))
    report = run_doctor(machine.host())
    status, detail, fix = checks(report)["nvidia-runtime"]
    assert report.failed
    assert status == "fail" and "cannot see the GPUs" in detail
    assert "nvidia-ctk runtime configure --runtime=docker" in fix


def test_podman_uses_cdi_specs() -> None:
    machine = gpu_machine("nvidia_smi_query_h100.csv", "nvidia_smi_h100.txt")
    add_podman(machine)
    machine.files["/etc/cdi/nvidia.yaml"] = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n"
    found = checks(run_doctor(machine.host(), backend="podman"))
    status, detail, _ = found["nvidia-runtime"]
    assert status == "ok" and "CDI specs: /etc/cdi/nvidia.yaml" in detail
    assert "--device nvidia.com/gpu=all" in detail


def rocm_machine(rocminfo: str | None, code: int = 0, devices: tuple[str, ...] = ("/dev/kfd", "/dev/dri")) -> Machine:
    machine = Machine(files={"/proc/meminfo": meminfo(512)}, devices=set(devices))
    if rocminfo is not None:
        machine.programs["rocminfo"] = "/opt/rocm/bin/rocminfo"
        machine.answer(["/opt/rocm/bin/rocminfo"], fixture(rocminfo), code)
    return machine


def test_rocm_mi300x() -> None:
    status, detail, _ = checks(run_doctor(rocm_machine("rocminfo_mi300x.txt").host()))["rocm"]
    assert status == "ok"
    assert "gfx942 x2 (AMD Instinct MI300X): in every PyTorch ROCm wheel" in detail
    assert "--device /dev/kfd --device /dev/dri" in detail


def test_rocm_unsupported_integrated_gpu() -> None:
    status, detail, fix = checks(run_doctor(rocm_machine("rocminfo_rx7900_igpu.txt").host()))["rocm"]
    assert status == "warn"
    assert "gfx1100 x1 (AMD Radeon RX 7900 XTX): in every PyTorch ROCm wheel" in detail
    assert "gfx1036 x1 (AMD Radeon Graphics): NOT in the official PyTorch ROCm wheels" in detail
    assert "gfx1036" in fix and "HSA_OVERRIDE_GFX_VERSION" in fix


def test_rocm_permission_denied() -> None:
    status, detail, fix = checks(run_doctor(rocm_machine("rocminfo_permission.txt", code=1).host()))["rocm"]
    assert status == "fail" and "render" in detail and "render and video groups" in fix


@pytest.mark.parametrize(("rocminfo", "devices", "status"), [
    (None, ("/dev/kfd", "/dev/dri"), "ok"),
    ("rocminfo_mi300x.txt", (), "fail"),
    (None, (), "skip"),
])
def test_rocm_device_nodes(rocminfo: str | None, devices: tuple[str, ...], status: str) -> None:
    assert checks(run_doctor(rocm_machine(rocminfo, devices=devices).host()))["rocm"][0] == status


def test_tpu_vm() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(400)},
                      env={"TPU_ACCELERATOR_TYPE": "v5litepod-8", "TPU_WORKER_ID": "0", "PJRT_DEVICE": "TPU"},
                      devices={"/dev/vfio/0", "/dev/vfio/1", "/dev/vfio/2", "/dev/vfio/3", "/dev/vfio/vfio"})
    status, detail, _ = checks(run_doctor(machine.host()))["tpu"]
    assert status == "ok" and "v5litepod-8: 4 device node(s)" in detail and "PJRT_DEVICE=TPU" in detail
    machine.devices = set()
    assert checks(run_doctor(machine.host()))["tpu"][0] == "warn"
    machine.env, machine.devices = {}, {"/dev/accel0", "/dev/accel1"}
    machine.files["/usr/local/lib/python3.11/site-packages/libtpu"] = ""
    status, detail, _ = checks(run_doctor(machine.host()))["tpu"]
    assert status == "ok" and "/dev/accel0 /dev/accel1" in detail and "site-packages/libtpu" in detail


def test_intel_xpu_render_nodes() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(64),
                             "/sys/class/drm/renderD128/device/vendor": "0x8086\n",
                             "/sys/class/drm/renderD128/device/device": "0x0bd5\n",
                             "/sys/class/drm/renderD129/device/vendor": "0x10de\n"},
                      programs={"xpu-smi": "/usr/bin/xpu-smi"})
    status, detail, _ = checks(run_doctor(machine.host()))["intel-xpu"]
    assert status == "ok" and "/dev/dri/renderD128 (0x0bd5)" in detail and "renderD129" not in detail
    assert "tools: xpu-smi" in detail
