"""DY103: NVIDIA-only packages in a ROCm, XPU or TPU image."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import image_accelerator, install_sites
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY103"
NAME = "nvidia-package-on-other-accelerator"
SEVERITY = "error"
MESSAGE = "an NVIDIA-only package is installed in a non-NVIDIA image"
FIX = (
    "Drop the package, or install the accelerator's own build (onnxruntime-rocm / onnxruntime-openvino, "
    "amdsmi instead of pynvml); when a dependency pulls it in, uninstall it in the same RUN."
)
DOCS = """\
Packages that talk to NVIDIA's driver or ship CUDA binaries do not work on AMD, Intel or Google
accelerators, and some break code that probes for them: with `pynvml` present, libraries take the
NVIDIA code path and fail on ROCm (transformers' ROCm images uninstall `py3nvml pynvml nvidia-ml-py
apex` for this reason). They also add hundreds of MB (`nvidia-*-cu12` wheels, `onnxruntime-gpu`).

Flagged in images whose base is ROCm (`rocm/*`), XPU (`intel/deep-learning-essentials`) or TPU
(`.../xla`), or whose torch comes from a ROCm or XPU index: `pynvml`, `py3nvml`, `nvidia-ml-py`,
`nvidia-ml-py3`, `nvidia-*-cu11/12/13`, `onnxruntime-gpu`, `cupy-cuda*`, `pycuda`, `cuda-python`,
`tensorrt`, `torch-tensorrt`, `transformer-engine`, `nvidia-dali-*`, `jax[cudaNN]`,
`jax-cuda*-plugin`, `tensorflow[and-cuda]`.

Bad:

```dockerfile
FROM rocm/dev-ubuntu-22.04:6.2.4
RUN pip install --no-cache-dir pynvml onnxruntime-gpu
```

Good:

```dockerfile
FROM rocm/dev-ubuntu-22.04:6.2.4
RUN pip install --no-cache-dir amdsmi onnxruntime-rocm
```
"""

_THIS = sys.modules[__name__]
_NVIDIA_ONLY = {
    "pynvml",
    "py3nvml",
    "nvidia-ml-py",
    "nvidia-ml-py3",
    "onnxruntime-gpu",
    "pycuda",
    "cuda-python",
    "tensorrt",
    "torch-tensorrt",
    "transformer-engine",
    "nvidia-dali",
    "cuda-bindings",
}
_NVIDIA_PATTERNS = (
    re.compile(r"^nvidia-.+-cu1\d$"),
    re.compile(r"^cupy-cuda\d+x?$"),
    re.compile(r"^nvidia-dali-cuda\d+$"),
    re.compile(r"^jax-cuda\d+-(plugin|pjrt)$"),
    re.compile(r"^tensorrt-cu1\d"),
)
_NVIDIA_EXTRAS = {"jax": re.compile(r"cuda"), "tensorflow": re.compile(r"and-cuda")}


def nvidia_only(name: str, raw: str) -> bool:
    if name in _NVIDIA_ONLY or any(p.match(name) for p in _NVIDIA_PATTERNS):
        return True
    extra = re.search(r"\[([^\]]*)\]", raw)
    return bool(extra and name in _NVIDIA_EXTRAS and _NVIDIA_EXTRAS[name].search(extra.group(1)))


def check(model: DockerfileModel) -> Iterator[Finding]:
    for where in install_sites(model):
        stage = where.inst.stage
        if where.install.tool not in ("pip", "uv", "conda") or stage is None:
            continue
        accel = image_accelerator(model, stage)
        if accel is None or accel.kind not in ("rocm", "xpu", "tpu"):
            continue
        for req in where.requirements():
            if req.name and nvidia_only(req.name, req.raw):
                line, col = model.locate(where.inst, req.raw)
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"{req.name} is NVIDIA-only but this image targets {accel.describe()} ({accel.image})",
                )
