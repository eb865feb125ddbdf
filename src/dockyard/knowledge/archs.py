"""GPU architecture arithmetic: does a set of compiled archs run on a GPU, can a toolkit compile it.

CUDA archs are compute capabilities "X.Y" with optional "a"/"f" (arch- and family-specific) and
"+PTX" suffixes. A GPU of capability X.Y runs SASS compiled for X.Z with Z <= Y (same major; "f"
family targets too), SASS of an "a" target only on exactly that arch, or PTX compiled for any
capability <= X.Y (JIT). ROCm gfx targets must match exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

_CC = re.compile(r"^(\d+)\.(\d+)([af]?)(\+PTX)?$")


@dataclass(frozen=True, order=True)
class Capability:
    major: int
    minor: int
    suffix: str = ""
    ptx: bool = False

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}{self.suffix}{'+PTX' if self.ptx else ''}"

    @property
    def plain(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_cc(text: str) -> Capability:
    match = _CC.match(text.strip())
    if not match:
        raise ValueError(f"not a compute capability: {text!r}")
    return Capability(int(match[1]), int(match[2]), match[3], bool(match[4]))


def covers(compiled: tuple[str, ...] | list[str], gpu: str) -> bool:
    """True if code compiled for `compiled` runs on a GPU of capability `gpu`."""
    target = parse_cc(gpu)
    for item in compiled:
        cc = parse_cc(item)
        if cc.major == target.major and cc.minor <= target.minor and cc.suffix != "a":
            return True
        if cc.major == target.major and cc.minor == target.minor:
            return True
        if cc.ptx and (cc.major, cc.minor) <= (target.major, target.minor):
            return True
    return False


def uncovered(compiled: tuple[str, ...] | list[str], gpus: tuple[str, ...] | list[str]) -> list[str]:
    return [gpu for gpu in gpus if not covers(compiled, gpu)]


# Arch-specific targets ("9.0a") arrived with CUDA 12.0, family-specific ones ("10.0f") with CUDA 12.9
# (compat.yaml nvidia_cuda.gpu_architectures: sm_90a, sm_100f).
SUFFIX_FIRST_CUDA = {"a": Version("12.0"), "f": Version("12.9")}


def first_toolkit(arch: str, first_cuda: str) -> Version:
    """The first CUDA toolkit that compiles for `arch`, given the first one that knows its capability."""
    return max(Version(first_cuda), SUFFIX_FIRST_CUDA.get(parse_cc(arch).suffix, Version("0")))


def toolkit_supports(arch: str, toolkit: Version, first_cuda: str, last_major: int | None) -> bool:
    """Can this CUDA toolkit compile for `arch`? (first toolkit that knows it, last major that keeps it)."""
    if toolkit < first_toolkit(arch, first_cuda):
        return False
    return not (last_major is not None and toolkit.major > last_major)


def nodot(archs: tuple[str, ...] | list[str]) -> str:
    """flash-attn style list: "80;90;100"."""
    return ";".join(f"{parse_cc(a).major}{parse_cc(a).minor}" for a in archs)
