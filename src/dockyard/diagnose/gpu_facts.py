"""The accelerator facts of `dockyard doctor`: NVIDIA, AMD ROCm, Google TPU and Intel XPU.

`gather_gpu` reads the machine through `Host` (nvidia-smi, rocminfo, /dev, /sys, the environment) into a
plain dict that goes into `doctor --json` as is; the checks in `gpu` turn it into findings. The parsers
read the tools' raw outputs, as scripts/device-check.sh records them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dockyard.diagnose.data import TPU_ENV_VARS
from dockyard.diagnose.host import Host

NVIDIA_QUERY = ("--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader")
CDI_GLOBS = ("/etc/cdi/*.yaml", "/etc/cdi/*.json", "/var/run/cdi/*.yaml", "/var/run/cdi/*.json")


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
