"""DY105: an extension compiled without an explicit arch list, or for archs the toolkit lacks."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from dockyard.knowledge import accelerators as acc
from dockyard.lint.analysis import declared_cuda, image_accelerator, stage_accelerator
from dockyard.lint.builds import compiles
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, Instruction, expand
from dockyard.lint.rules.base import finding

CODE = "DY105"
NAME = "extension-arch-list"
SEVERITY = "warning"
MESSAGE = "a CUDA/ROCm extension is compiled without an explicit GPU arch list"
FIX = (
    'Set the target architectures before the compile: `ENV TORCH_CUDA_ARCH_LIST="8.0;8.6;9.0+PTX"` for '
    'CUDA, `PYTORCH_ROCM_ARCH="gfx942;gfx950"` (or flash-attn\'s `GPU_ARCHS`) for ROCm, with archs the '
    "base's toolkit supports."
)
DOCS = """\
Without an arch list, `torch.utils.cpp_extension` compiles for the GPUs it sees. A docker build sees
none, so it falls back to every arch the toolkit knows: the build takes several times longer and the
binaries are larger, or, for ROCm builds that default to `native` (flash-attn's `GPU_ARCHS`), the build
fails. List the archs you deploy on: `TORCH_CUDA_ARCH_LIST` for CUDA builds (flash-attn reads
`FLASH_ATTN_CUDA_ARCHS` and has its own explicit default, so it is not flagged on CUDA),
`PYTORCH_ROCM_ARCH` or `GPU_ARCHS` for ROCm builds.

The rule also checks the list against the base's CUDA toolkit, wherever `TORCH_CUDA_ARCH_LIST` is set:
CUDA 13 removed Maxwell, Pascal and Volta (5.x, 6.x, 7.0, 7.2: `nvcc fatal: Unsupported gpu
architecture 'compute_60'`), CUDA 12 removed Kepler (3.x), Blackwell 10.0/12.0 need CUDA 12.8, 10.3 and
12.1 need 12.9, 11.0 needs 13.0. For ROCm, gfx942 needs ROCm 6.0 and gfx950 ROCm 7.0. When the base does not
name a CUDA version (a plain Ubuntu base that installs the toolkit itself), the version comes from a build
argument's default (`ARG CUDA_VERSION=12.4.1`, `ARG CUDA=cu126`) or from the CUDA variant of the torch wheels
the stage installs.

Bad:

```dockerfile
FROM nvidia/cuda:13.0.2-devel-ubuntu24.04
ENV TORCH_CUDA_ARCH_LIST="6.0;7.0;8.0;9.0"
RUN MAX_JOBS=4 DS_BUILD_FUSED_ADAM=1 pip install --no-build-isolation deepspeed==0.18.0
```

Good:

```dockerfile
FROM nvidia/cuda:13.0.2-devel-ubuntu24.04
ENV TORCH_CUDA_ARCH_LIST="8.0;9.0;10.0;12.0+PTX"
RUN MAX_JOBS=4 DS_BUILD_FUSED_ADAM=1 pip install --no-build-isolation deepspeed==0.18.0
```
"""

_THIS = sys.modules[__name__]
_CUDA_VARS = ("TORCH_CUDA_ARCH_LIST",)
_ROCM_VARS = ("PYTORCH_ROCM_ARCH", "GPU_ARCHS")


def _explicit(value: str | None) -> bool:
    return bool(value and value.strip().strip("'\"") and value.strip().strip("'\"").lower() not in ("native", "all"))


def _arch_settings(model: DockerfileModel) -> Iterator[tuple[Instruction, str, str]]:
    """(instruction, variable, value) for every ARG/ENV that sets an arch variable."""
    for inst in model.instructions:
        if inst.cmd in ("ENV", "ARG") and inst.stage is not None:
            env = model.env_before(inst)
            for name, value in inst.pairs():
                if name in _CUDA_VARS + _ROCM_VARS and value:
                    yield inst, name, expand(value, env)


def check(model: DockerfileModel) -> Iterator[Finding]:
    seen: set[int] = set()
    for item in compiles(model):
        site = item.site
        stage = site.inst.stage
        if stage is None or site.inst.index in seen:
            continue
        accel = image_accelerator(model, stage)
        kind = accel.kind if accel else "unknown"
        if kind in ("cpu", "xpu", "tpu"):
            continue  # no CUDA/ROCm code is compiled for a CPU-only (or SYCL/XLA) image
        if kind == "cuda" and item.package == "flash-attn":
            continue  # flash-attn has an explicit default (FLASH_ATTN_CUDA_ARCHS=80;90;100;110;120)
        if kind == "cuda":
            names: tuple[str, ...] = (*_CUDA_VARS, "FLASH_ATTN_CUDA_ARCHS")
        elif kind == "rocm":
            names = _ROCM_VARS
        else:
            names = (*_CUDA_VARS, *_ROCM_VARS, "FLASH_ATTN_CUDA_ARCHS")
        if any(_explicit(site.getenv(n)) for n in names):
            continue
        seen.add(site.inst.index)
        wanted = " or ".join(names[:2])
        line, col = model.locate(site.inst, site.cmd.words[0].raw if site.cmd.words else "")
        yield finding(_THIS, model, line, col, f"{item.package} is compiled without an explicit {wanted}")
    for inst, name, value in _arch_settings(model):
        stage = inst.stage
        accel = stage_accelerator(model, stage) if stage else None
        if name == "TORCH_CUDA_ARCH_LIST" and (accel is None or accel.kind == "cpu" or accel.version is None):
            accel = declared_cuda(model, inst) or accel  # a toolkit the base does not name: ARG defaults, wheels
        if accel is None or accel.version is None or accel.version[1] is None:
            continue
        version = (accel.version[0], accel.version[1])
        if accel.kind == "cuda" and name == "TORCH_CUDA_ARCH_LIST":
            bad = acc.unsupported_cuda_archs(value, version)
        elif accel.kind == "rocm" and name in _ROCM_VARS:
            bad = acc.unsupported_rocm_archs(value, version)
        else:
            continue
        if bad:
            line, col = model.locate(inst, name)
            yield finding(
                _THIS,
                model,
                line,
                col,
                f"{name} lists {', '.join(bad)}, which {accel.describe()} ({accel.image}) cannot compile for",
                severity="error",
                fix=f"Remove {', '.join(bad)} from {name} or use a base whose toolkit supports them.",
            )
