"""The accelerator checks of `dockyard doctor` (NVIDIA, AMD ROCm, Google TPU, Intel XPU): each a function
of `Facts` (whose GPU part `gpu_facts.gather_gpu` reads) -> `Check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.diagnose.data import (
    cuda_reach,
    rocm_gfx_supported,
    torch_cuda_variants,
    variant_support,
    variants_for_capability,
)
from dockyard.diagnose.facts import Facts
from dockyard.diagnose.host import Check, Status

NEWEST_VARIANTS = ("cu130", "cu132")  # what PyPI's default torch (2.11+) and current indexes ship


def _nv(facts: Facts) -> dict[str, Any]:
    nvidia: dict[str, Any] = facts.gpu.get("nvidia") or {}
    return nvidia


def _variants_text(support: Mapping[str, str]) -> str:
    native = [v for v, s in support.items() if s == "native"]
    compat = [v for v, s in support.items() if s == "compat"]
    missing = [v for v, s in support.items() if s == "no"]
    parts = []
    if native:
        parts.append(f"{', '.join(native)} natively")
    if compat:
        parts.append(f"{', '.join(compat)} through minor-version compatibility (no PTX JIT)")
    if missing:
        parts.append(f"not {', '.join(missing)}")
    return "; ".join(parts)


def check_nvidia_driver(facts: Facts) -> Check:
    nv = _nv(facts)
    if not nv.get("present"):
        return Check("nvidia-driver", "skip", "no NVIDIA GPU (no nvidia-smi, no /dev/nvidia*)", group="gpu")
    if nv.get("error") or not nv.get("driver"):
        return Check("nvidia-driver", "fail",
                     f"NVIDIA devices but the driver does not answer: {nv.get('error')}",
                     "install or load the NVIDIA driver until `nvidia-smi` works on the host; containers use "
                     "the host's driver", "gpu")
    driver = str(nv["driver"])
    reach = cuda_reach(driver)
    support = variant_support(driver)
    said = f" (nvidia-smi: CUDA {nv['cuda']})" if nv.get("cuda") else ""
    detail = (f"driver {driver}{said}: CUDA up to {reach.native or '?'} natively, {reach.compat or 'none'} "
              f"with minor-version compatibility; torch wheels: {_variants_text(support)}")
    if all(s == "no" for s in support.values()):
        return Check("nvidia-driver", "fail", detail,
                     "update the driver: R580 (>= 580.65.06) runs every current torch CUDA wheel", "gpu")
    if any(support.get(v) == "no" for v in NEWEST_VARIANTS):
        usable = [v for v, s in support.items() if s != "no"]
        return Check("nvidia-driver", "warn", detail,
                     "PyPI's default torch (2.11+) is a CUDA 13 build that this driver cannot run: install "
                     f"torch from https://download.pytorch.org/whl/{usable[-1]}, or update the driver to "
                     "R580 (>= 580.65.06)", "gpu")
    return Check("nvidia-driver", "ok", detail, group="gpu")


def check_nvidia_arch(facts: Facts) -> Check:
    nv = _nv(facts)
    gpus = [g for g in nv.get("gpus") or [] if re.match(r"^\d+\.\d+$", g.get("compute_cap", ""))]
    if not gpus:
        return Check("nvidia-arch", "skip", "no GPU compute capability known", group="gpu")
    support = variant_support(str(nv.get("driver") or ""))
    lines: list[str] = []
    fixes: list[str] = []
    status: Status = "ok"
    for cc in sorted({g["compute_cap"] for g in gpus}):
        names = sorted({g["name"] for g in gpus if g["compute_cap"] == cc})
        count = sum(1 for g in gpus if g["compute_cap"] == cc)
        ships = variants_for_capability(cc)
        usable = [v for v in ships if support.get(v, "no") != "no"]
        sm = "sm_" + cc.replace(".", "")
        shipped = ", ".join(ships) or "no official wheel"
        lines.append(f"{', '.join(names)} x{count} ({sm}): kernels in {shipped}; "
                     f"usable with this driver: {', '.join(usable) or 'none'}")
        if not usable:
            status = "fail"
            fixes.append(f"no torch CUDA wheel both runs on this driver and ships {sm}: update the driver, "
                         f"or build torch/extensions with TORCH_CUDA_ARCH_LIST={cc}")
        elif any(v not in ships for v in NEWEST_VARIANTS if v in torch_cuda_variants()):
            status = "fail" if status == "fail" else "warn"
            fixes.append(f"cu130/cu132 wheels have no kernels for {sm}: pin a variant that does "
                         f"({usable[-1]}, index https://download.pytorch.org/whl/{usable[-1]})")
    arch_list = ";".join(sorted({g["compute_cap"] for g in gpus}))
    lines.append(f"TORCH_CUDA_ARCH_LIST for extensions built for this host: {arch_list}")
    return Check("nvidia-arch", status, "; ".join(lines), "; ".join(fixes), "gpu")


def check_nvidia_runtime(facts: Facts) -> Check:
    nv = _nv(facts)
    if not nv.get("present"):
        return Check("nvidia-runtime", "skip", "no NVIDIA GPU", group="gpu")
    runtime = nv.get("runtime") or {}
    docker_has = "nvidia" in (runtime.get("docker_runtimes") or [])
    cdi = [p for p in runtime.get("cdi_specs") or [] if "nvidia" in p]
    parts = []
    if docker_has:
        default = " (default)" if runtime.get("docker_default") == "nvidia" else ""
        parts.append(f"dockerd has the 'nvidia' runtime{default}")
    if cdi:
        parts.append(f"CDI specs: {', '.join(cdi)}")
    if runtime.get("toolkit"):
        parts.append(f"toolkit: {', '.join(runtime['toolkit'])}")
    kind = facts.engine.kind if facts.engine else "docker"
    fix = ("install nvidia-container-toolkit, then `nvidia-ctk runtime configure --runtime=docker` and "
           "restart dockerd (docker), or `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml` "
           "(podman, CDI)")
    if (kind == "docker" and (docker_has or cdi)) or (kind == "podman" and cdi):
        how = "--gpus all" if kind == "docker" else "--device nvidia.com/gpu=all"
        parts.append(f"run GPU containers with `{kind} run {how}`")
        return Check("nvidia-runtime", "ok", "; ".join(parts), group="gpu")
    detail = "; ".join(parts) or "no NVIDIA container runtime and no CDI spec"
    return Check("nvidia-runtime", "fail", f"{detail}: containers of this {kind} engine cannot see the GPUs",
                 fix, "gpu")


def check_rocm(facts: Facts) -> Check:
    rocm: dict[str, Any] = facts.gpu.get("rocm") or {}
    if not rocm.get("kfd") and not rocm.get("rocminfo"):
        return Check("rocm", "skip", "no AMD ROCm GPU (no /dev/kfd)", group="gpu")
    run_hint = "containers need `--device /dev/kfd --device /dev/dri --group-add video`"
    if not rocm.get("kfd"):
        return Check("rocm", "fail", "rocminfo is installed but /dev/kfd is missing: amdgpu is not loaded",
                     "install/load the amdgpu DKMS driver (`modprobe amdgpu`), then run `rocminfo` again",
                     "gpu")
    if rocm.get("error"):
        return Check("rocm", "fail", f"/dev/kfd present but rocminfo fails: {rocm['error']}",
                     "add the user to the render and video groups; check `dmesg | grep amdgpu`", "gpu")
    gpus = rocm.get("gpus") or []
    if not gpus:
        return Check("rocm", "ok", f"/dev/kfd present (no rocminfo on the host; images bring ROCm); "
                     f"{run_hint}", group="gpu")
    lines, unsupported = [], []
    for gfx in sorted({g["gfx"] for g in gpus}):
        names = sorted({g["name"] for g in gpus if g["gfx"] == gfx and g["name"]})
        count = sum(1 for g in gpus if g["gfx"] == gfx)
        where = {"all": "in every PyTorch ROCm wheel", "rocm7": "in PyTorch ROCm 7.x wheels only",
                 "no": "NOT in the official PyTorch ROCm wheels"}[rocm_gfx_supported(gfx)]
        lines.append(f"{gfx} x{count}{' (' + ', '.join(names) + ')' if names else ''}: {where}")
        if rocm_gfx_supported(gfx) == "no":
            unsupported.append(gfx)
    detail = "; ".join(lines) + f"; {run_hint}"
    if not rocm.get("dri"):
        return Check("rocm", "fail", detail + "; /dev/dri is missing", "load the amdgpu driver", "gpu")
    if unsupported:
        return Check("rocm", "warn", detail,
                     f"{', '.join(unsupported)}: set HSA_OVERRIDE_GFX_VERSION to the nearest supported "
                     "target (e.g. 11.0.0 for RDNA3) or build with PYTORCH_ROCM_ARCH set to it", "gpu")
    return Check("rocm", "ok", detail, group="gpu")


def check_tpu(facts: Facts) -> Check:
    tpu: dict[str, Any] = facts.gpu.get("tpu") or {}
    env, devices = tpu.get("env") or {}, tpu.get("devices") or []
    if not env and not devices:
        return Check("tpu", "skip", "no TPU (no TPU_* environment, no /dev/accel*)", group="gpu")
    kind = env.get("TPU_ACCELERATOR_TYPE", "TPU")
    parts = [f"{kind}: {len(devices)} device node(s) {' '.join(devices[:4])}".rstrip()]
    if env.get("PJRT_DEVICE"):
        parts.append(f"PJRT_DEVICE={env['PJRT_DEVICE']}")
    parts.append("libtpu on the host: " + (", ".join(tpu["libtpu"]) if tpu.get("libtpu")
                                           else "none (images install it with torch_xla[tpu])"))
    parts.append("containers need `--privileged --net host --shm-size=16G -e PJRT_DEVICE=TPU`")
    if not devices:
        return Check("tpu", "warn", "; ".join(parts),
                     "TPU environment variables but no /dev/accel* or /dev/vfio devices: run on the TPU VM "
                     "itself", "gpu")
    return Check("tpu", "ok", "; ".join(parts), group="gpu")


def check_xpu(facts: Facts) -> Check:
    xpu: dict[str, Any] = facts.gpu.get("xpu") or {}
    devices = xpu.get("devices") or []
    if not devices:
        return Check("intel-xpu", "skip", "no Intel GPU render node in /sys/class/drm", group="gpu")
    nodes = ", ".join(f"{d['node']} ({d['device'] or '?'})" for d in devices)
    tools = f"; tools: {', '.join(xpu['tools'])}" if xpu.get("tools") else ""
    return Check("intel-xpu", "ok",
                 f"Intel GPU {nodes}{tools}; torch xpu wheels (2.5+) need only the host driver; containers "
                 "need `--device /dev/dri` (integrated GPUs show here too)", group="gpu")


GPU_CHECKS: tuple[Callable[[Facts], Check], ...] = (
    check_nvidia_driver, check_nvidia_arch, check_nvidia_runtime, check_rocm, check_tpu, check_xpu,
)
