"""GPU facts that `dockyard doctor` reasons with, read from dockyard's knowledge base (cuda.toml,
rocm.toml, torch.toml: each row names its source), and pure queries over them. When a table does not
know an answer the query says so instead of guessing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from dockyard.knowledge import archs
from dockyard.knowledge.drivers import driver_support
from dockyard.knowledge.loader import Knowledge

# Environment that identifies a Cloud TPU VM or a TPU container (pytorch/xla docs, _pjrt.md; GKE TPU docs).
TPU_ENV_VARS: tuple[str, ...] = (
    "TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID", "TPU_WORKER_HOSTNAMES", "TPU_SKIP_MDS_QUERY",
    "PJRT_DEVICE", "TPU_PROCESS_BOUNDS", "TPU_VISIBLE_CHIPS",
)


def driver_minimums() -> tuple[tuple[str, str], ...]:
    """(CUDA minor, minimum Linux driver of its GA release), newest first."""
    return Knowledge.load().cuda_drivers


@functools.cache
def torch_cuda_variants() -> dict[str, tuple[str, str]]:
    """torch CUDA wheel variant -> (its CUDA minor, "first-last" torch minors that publish it)."""
    k = Knowledge.load()
    result = {}
    for name, row in k.cuda_variants.items():
        minors = [r.minor for r in k.torch_releases if name in r.cuda]
        if minors:
            span = minors[0] if len(minors) == 1 else f"{minors[0]}-{minors[-1]}"
            result[name] = (str(row.version), span)
    return result


@functools.cache
def variant_archs() -> dict[str, tuple[str, ...]]:
    """The archs compiled into each variant's wheels, for the newest torch that publishes it."""
    k = Knowledge.load()
    result = {}
    for name in torch_cuda_variants():
        newest = next(v for v, r in k.torch_versions() if name in r.cuda)
        found = k.wheel_archs(name, newest)
        if found is not None:
            result[name] = found
    return result


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
    minimums, compat_minimums = driver_minimums(), Knowledge.load().cuda_minor_compat
    native = next((cuda for cuda, minimum in minimums if version >= Version(minimum)), None)
    compat = None
    for major in sorted(compat_minimums, reverse=True):
        if version >= Version(compat_minimums[major]):
            newest = [cuda for cuda, _ in minimums if int(cuda.split(".")[0]) == major]
            compat = newest[0] if newest else f"{major}.x"
            break
    return CudaReach(native, compat)


def variant_support(driver: str) -> dict[str, str]:
    """Each torch CUDA variant -> "native", "compat" (minor-version compatibility) or "no"."""
    return {variant: driver_support(driver, cuda) for variant, (cuda, _) in torch_cuda_variants().items()}


def runs_on(compiled: str, capability: str) -> bool:
    """Does a wheel compiled for `compiled` ("7.5;8.0;9.0+PTX", or space-separated) run on a GPU of
    `capability` ("8.9")? The rules are archs.covers'; entries that are not archs are ignored."""
    entries = [e for e in compiled.replace(" ", ";").split(";") if _is_cc(e)]
    return _is_cc(capability) and archs.covers(entries, capability.strip())


def _is_cc(text: str) -> bool:
    try:
        archs.parse_cc(text)
    except ValueError:
        return False
    return True


def variants_for_capability(capability: str) -> list[str]:
    return [variant for variant, compiled in variant_archs().items() if runs_on(";".join(compiled), capability)]


def rocm_gfx_supported(gfx: str) -> str:
    """"all" (every ROCm wheel), "rocm7" (ROCm >= 7.0 wheels only) or "no"."""
    name = gfx.split(":")[0]
    rocm = Knowledge.load().rocm["archs"]
    if name in rocm["wheels"]:
        return "all"
    if name in rocm["wheels_rocm7"]:
        return "rocm7"
    return "no"
