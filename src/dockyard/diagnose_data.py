"""GPU facts that `dockyard doctor` reasons with: small tables, each with its source, and pure queries.

These are deliberately local to diagnostics until the knowledge base (dockyard/knowledge) is stable;
when a table here does not know an answer the query says so instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

# Minimum Linux x86_64 driver for each CUDA toolkit minor, GA release (the first release of the minor).
# Source: docs.nvidia.com/cuda/cuda-toolkit-release-notes, Table 3 "CUDA Toolkit and Corresponding
# Driver Versions" (CUDA 13.2 Update 2 edition). Newest first.
DRIVER_MINIMUM_PER_CUDA: tuple[tuple[str, str], ...] = (
    ("13.2", "595.45.04"),
    ("13.1", "590.44.01"),
    ("13.0", "580.65.06"),
    ("12.9", "575.51.03"),
    ("12.8", "570.26"),
    ("12.6", "560.28.03"),
    ("12.5", "555.42.02"),
    ("12.4", "550.54.14"),
    ("12.3", "545.23.06"),
    ("12.2", "535.54.03"),
    ("12.1", "530.30.02"),
    ("12.0", "525.60.13"),
    ("11.8", "520.61.05"),
    ("11.7", "515.43.04"),
)

# Minor version compatibility: an application built with any toolkit of a major runs on a driver at
# least this new (limited: no JIT of PTX newer than the driver). Source:
# docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html (13.x >= 580, 12.x >= 525.60.13,
# 11.x >= 450.80.02). PyTorch's cuXYZ wheels carry their own CUDA runtime and rely on this.
MINOR_COMPAT_MINIMUM: dict[int, str] = {13: "580.65.06", 12: "525.60.13", 11: "450.80.02"}

# PyTorch wheel variants: the CUDA each is built with and the torch releases that publish it.
# Source: pytorch/test-infra generate_binary_build_matrix.py and pytorch RELEASE.md "Release
# Compatibility Matrix" (as transcribed in reference/compat.yaml, 2026-11).
TORCH_CUDA_VARIANTS: dict[str, tuple[str, str]] = {
    "cu118": ("11.8", "2.1-2.7"),
    "cu121": ("12.1", "2.1-2.5"),
    "cu124": ("12.4", "2.4-2.6"),
    "cu126": ("12.6", "2.6-2.14"),
    "cu128": ("12.8", "2.7-2.11"),
    "cu129": ("12.9", "2.8"),
    "cu130": ("13.0", "2.9-2.14"),
    "cu132": ("13.2", "2.12-2.14"),
}

# CUDA archs compiled into the official Linux x86_64 wheels of each variant (newest torch that ships it).
# "+PTX" means PTX for that arch is included too. Sources: pytorch .ci/manywheel/build_cuda.sh; RELEASE.md
# CUDA support matrix; moi90/pytorch_compute_capabilities for cu118/cu121/cu124 (conda builds).
VARIANT_ARCHS: dict[str, str] = {
    "cu118": "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0",
    "cu121": "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0;9.0a",
    "cu124": "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0;9.0a",
    "cu126": "5.0;6.0;7.0;7.5;8.0;8.6;9.0",
    "cu128": "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
    "cu129": "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
    "cu130": "7.5;8.0;8.6;9.0;10.0;12.0+PTX",
    "cu132": "7.5;8.0;8.6;9.0;10.0;12.0+PTX",
}

# gfx targets in the official PyTorch ROCm wheels (PYTORCH_ROCM_ARCH in pytorch .ci/manywheel/build.sh,
# PR 164854; gfx950/gfx1150/gfx1151 added for ROCm >= 7.0 by PR 167299).
ROCM_WHEEL_GFX: tuple[str, ...] = (
    "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100", "gfx1101", "gfx1102",
    "gfx1200", "gfx1201",
)
ROCM7_EXTRA_GFX: tuple[str, ...] = ("gfx950", "gfx1150", "gfx1151")

# Environment that identifies a Cloud TPU VM or a TPU container (pytorch/xla docs, _pjrt.md; GKE TPU docs).
TPU_ENV_VARS: tuple[str, ...] = (
    "TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID", "TPU_WORKER_HOSTNAMES", "TPU_SKIP_MDS_QUERY",
    "PJRT_DEVICE", "TPU_PROCESS_BOUNDS", "TPU_VISIBLE_CHIPS",
)


def parse_version(text: str) -> Version | None:
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class CudaReach:
    """What a driver runs: newest toolkit it was released with, and newest through minor-version compat."""

    native: str | None
    compat: str | None


def cuda_reach(driver: str) -> CudaReach:
    version = parse_version(driver)
    if version is None:
        return CudaReach(None, None)
    native = next((cuda for cuda, minimum in DRIVER_MINIMUM_PER_CUDA if version >= Version(minimum)), None)
    compat = None
    for major in sorted(MINOR_COMPAT_MINIMUM, reverse=True):
        if version >= Version(MINOR_COMPAT_MINIMUM[major]):
            newest = [cuda for cuda, _ in DRIVER_MINIMUM_PER_CUDA if int(cuda.split(".")[0]) == major]
            compat = newest[0] if newest else f"{major}.x"
            break
    return CudaReach(native, compat)


def variant_support(driver: str) -> dict[str, str]:
    """Each torch CUDA variant -> "native", "compat" (minor-version compatibility) or "no"."""
    version = parse_version(driver)
    result: dict[str, str] = {}
    for variant, (cuda, _) in TORCH_CUDA_VARIANTS.items():
        if version is None:
            result[variant] = "no"
            continue
        minimum = dict(DRIVER_MINIMUM_PER_CUDA).get(cuda)
        major = int(cuda.split(".")[0])
        if minimum and version >= Version(minimum):
            result[variant] = "native"
        elif major in MINOR_COMPAT_MINIMUM and version >= Version(MINOR_COMPAT_MINIMUM[major]):
            result[variant] = "compat"
        else:
            result[variant] = "no"
    return result


_ARCH = re.compile(r"^(\d+)\.(\d+)(a|f)?(\+PTX)?$")


def runs_on(archs: str, capability: str) -> bool:
    """Does a wheel compiled for `archs` ("7.5;8.0;9.0+PTX") run on a GPU of `capability` ("8.9")?

    SASS for X.Z runs on X.Y when Z <= Y (same major); "a"/"f" targets only on that exact family/arch;
    PTX for any arch <= the GPU's is JIT-compiled by the driver.
    """
    gpu = _ARCH.match(capability.strip())
    if not gpu:
        return False
    g_major, g_minor = int(gpu.group(1)), int(gpu.group(2))
    for entry in archs.replace(" ", ";").split(";"):
        m = _ARCH.match(entry.strip())
        if not m:
            continue
        major, minor, suffix, ptx = int(m.group(1)), int(m.group(2)), m.group(3), bool(m.group(4))
        if suffix == "a":
            if (major, minor) == (g_major, g_minor):
                return True
            continue
        if major == g_major and minor <= g_minor:
            return True
        if ptx and (major, minor) <= (g_major, g_minor):
            return True
    return False


def variants_for_capability(capability: str) -> list[str]:
    return [variant for variant, archs in VARIANT_ARCHS.items() if runs_on(archs, capability)]


def rocm_gfx_supported(gfx: str) -> str:
    """"all" (every ROCm wheel), "rocm7" (ROCm >= 7.0 wheels only) or "no"."""
    name = gfx.split(":")[0]
    if name in ROCM_WHEEL_GFX:
        return "all"
    if name in ROCM7_EXTRA_GFX:
        return "rocm7"
    return "no"
