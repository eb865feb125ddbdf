"""The accelerator side of `dockyard doctor`: NVIDIA, AMD ROCm, Google TPU and Intel XPU.

`gather_gpu` reads the machine through `Host` (nvidia-smi, rocminfo, /dev, /sys, the environment) into a
plain dict that goes into `doctor --json` as is; the checks below turn it into findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dockyard.diagnose.data import (
    TPU_ENV_VARS,
    cuda_reach,
    rocm_gfx_supported,
    torch_cuda_variants,
    variant_support,
    variants_for_capability,
)
from dockyard.diagnose.host import Check, Host, Status

if TYPE_CHECKING:
    from dockyard.diagnose.facts import Facts

NVIDIA_QUERY = ("--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader")
CDI_GLOBS = ("/etc/cdi/*.yaml", "/etc/cdi/*.json", "/var/run/cdi/*.yaml", "/var/run/cdi/*.json")
NEWEST_VARIANTS = ("cu130", "cu132")  # what PyPI's default torch (2.11+) and current indexes ship


def gather_gpu(host: Host, docker_info: Mapping[str, Any]) -> dict[str, Any]:
    return {"nvidia": _nvidia(host, docker_info), "rocm": _rocm(host), "tpu": _tpu(host), "xpu": _xpu(host)}


def parse_nvidia_query(text: str) -> tuple[str, list[dict[str, str]]]:
    """`nvidia-smi --query-gpu=driver_version,compute_cap,name --format=csv,noheader` -> driver, GPUs."""
    driver, gpus = "", []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) == 3 and re.match(r"^\d+\.\d+", parts[0]):
            driver = driver or parts[0]
            gpus.append({"compute_cap": parts[1], "name": parts[2]})
    return driver, gpus


def parse_nvidia_smi(text: str) -> dict[str, str]:
    """The header of plain `nvidia-smi`: driver version and the newest CUDA it supports."""
    found: dict[str, str] = {}
    if m := re.search(r"Driver Version:\s*([\d.]+)", text):
        found["driver"] = m.group(1)
    if m := re.search(r"CUDA Version:\s*([\d.]+)", text):
        found["cuda"] = m.group(1)
    return found


def _nvidia(host: Host, docker_info: Mapping[str, Any]) -> dict[str, Any]:
    smi = host.which("nvidia-smi")
    devices = sorted(host.glob("/dev/nvidia[0-9]*"))
    found: dict[str, Any] = {"present": bool(smi or devices or host.exists("/dev/nvidiactl")), "smi": smi,
                             "devices": devices, "driver": None, "cuda": None, "gpus": [], "error": None}
    if not found["present"]:
        return found
    runtimes = sorted((docker_info.get("Runtimes") or {}).keys())
    found["runtime"] = {
        "docker_runtimes": runtimes,
        "docker_default": docker_info.get("DefaultRuntime"),
        "cdi_specs": sorted(p for pattern in CDI_GLOBS for p in host.glob(pattern)),
        "toolkit": sorted(t for t in ("nvidia-container-runtime", "nvidia-ctk", "nvidia-container-cli")
                          if host.which(t)),
    }
    if not smi:
        found["error"] = "nvidia-smi not found"
        return found
    query = host.run([smi, *NVIDIA_QUERY], None)
    plain = host.run([smi], None)
    header = parse_nvidia_smi(plain.stdout) if plain.returncode == 0 else {}
    if query.returncode == 0:
        found["driver"], found["gpus"] = parse_nvidia_query(query.stdout)
    elif "compute_cap" in (query.stdout + query.stderr) and header:  # drivers before ~510 lack the field
        found["driver"] = header.get("driver")
    else:
        text = (query.stdout or query.stderr or plain.stdout or plain.stderr).strip()
        found["error"] = text.splitlines()[0] if text else f"nvidia-smi exited {query.returncode}"
    found["driver"] = found["driver"] or header.get("driver")
    found["cuda"] = header.get("cuda")
    return found


def parse_rocminfo(text: str) -> list[dict[str, str]]:
    """GPU agents in `rocminfo` output: their gfx name and marketing name."""
    agents: list[dict[str, str]] = []
    for block in re.split(r"\n\*{5,}\s*\nAgent \d+\s*\n\*{5,}", text)[1:]:
        fields: dict[str, str] = {}
        for key, value in re.findall(r"^  (\S[^:]*?):[ \t]+(.*?)[ \t]*$", block, flags=re.M):
            fields.setdefault(key, value)  # the agent's own fields come before nested ones (ISA Info...)
        if fields.get("Device Type") == "GPU" and fields.get("Name", "").startswith("gfx"):
            agents.append({"gfx": fields["Name"], "name": fields.get("Marketing Name", "")})
    return agents


def _rocm(host: Host) -> dict[str, Any]:
    rocminfo = host.which("rocminfo") or ("/opt/rocm/bin/rocminfo" if host.exists("/opt/rocm/bin/rocminfo")
                                          else None)
    found: dict[str, Any] = {"kfd": host.exists("/dev/kfd"), "dri": host.exists("/dev/dri"),
                             "rocminfo": rocminfo, "gpus": [], "error": None}
    if rocminfo and found["kfd"]:
        result = host.run([rocminfo], None)
        if result.returncode == 0:
            found["gpus"] = parse_rocminfo(result.stdout)
        else:
            text = (result.stderr or result.stdout).strip()
            found["error"] = text.splitlines()[-1] if text else f"rocminfo exited {result.returncode}"
    return found


def _tpu(host: Host) -> dict[str, Any]:
    env = {name: host.env[name] for name in TPU_ENV_VARS if host.env.get(name)}
    accel = sorted(host.glob("/dev/accel[0-9]*"))
    vfio = sorted(p for p in host.glob("/dev/vfio/[0-9]*")) if env or accel else []
    libtpu = sorted(host.glob("/usr/local/lib/python3*/*-packages/libtpu*")
                    + host.glob("/usr/lib/python3*/*-packages/libtpu*"))
    return {"env": env, "devices": accel + vfio, "libtpu": libtpu[:3]}


def _xpu(host: Host) -> dict[str, Any]:
    devices = []
    for vendor_file in sorted(host.glob("/sys/class/drm/renderD*/device/vendor")):
        if (host.read(vendor_file) or "").strip().lower() == "0x8086":
            base = vendor_file.rsplit("/device/vendor", 1)[0]
            device = (host.read(f"{base}/device/device") or "").strip()
            devices.append({"node": "/dev/dri/" + base.rsplit("/", 1)[1], "device": device})
    tools = sorted(t for t in ("xpu-smi", "sycl-ls", "clinfo") if host.which(t))
    return {"devices": devices, "tools": tools}


# ------------------------------------------------------------------------------------------ checks

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
