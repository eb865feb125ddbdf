"""An NVIDIA driver against a CUDA version, from cuda.toml's driver tables (each row names its source).

A driver runs a CUDA minor natively when it is at least the minimum driver of that toolkit's GA release,
and through minor-version compatibility (no JIT of newer PTX) when it is at least the minimum of the
CUDA major. torch's cuXYZ wheels bundle their CUDA runtime, so this is all a driver needs to run them.
"""

from __future__ import annotations

from typing import Literal

from packaging.version import InvalidVersion, Version

from dockyard.knowledge.loader import Knowledge

Support = Literal["native", "compat", "no"]


def parse_driver(text: str) -> Version | None:
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def minimum_drivers(cuda: str) -> tuple[str | None, str | None]:
    """(minimum driver of the GA release of CUDA `cuda` ("12.8"), minimum of its major through
    minor-version compatibility); None where the tables do not know it."""
    knowledge = Knowledge.load()
    minor = ".".join(cuda.strip().split(".")[:2])
    native = dict(knowledge.cuda_drivers).get(minor)
    major = minor.split(".")[0]
    compat = knowledge.cuda_minor_compat.get(int(major)) if major.isdigit() else None
    return native, compat


def driver_support(driver: str, cuda: str) -> Support:
    """Does an NVIDIA driver ("570.124.06") run code built with CUDA `cuda`? "no" also for a driver
    that is not a version."""
    version = parse_driver(driver)
    if version is None:
        return "no"
    native, compat = minimum_drivers(cuda)
    if native and version >= Version(native):
        return "native"
    if compat and version >= Version(compat):
        return "compat"
    return "no"
