"""DY101: the torch wheel variant does not fit the base image's accelerator."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from dockyard.knowledge import accelerators as acc
from dockyard.lint.analysis import stage_accelerator, torch_installs
from dockyard.lint.finding import Finding, Severity
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY101"
NAME = "torch-variant-mismatch"
SEVERITY = "error"
MESSAGE = "the torch wheel variant does not fit the base image's accelerator"
FIX = (
    "Install torch from the wheel index that matches the base: `--index-url "
    "https://download.pytorch.org/whl/cuXYZ` with the base's CUDA major and a minor no newer than the "
    "base's (or /whl/rocmX.Y, /whl/xpu, /whl/cpu), or change the base image."
)
DOCS = """\
A torch wheel is built for one accelerator: `+cpu`, `+cu126`, `+rocm6.2.4`, `+xpu`. The variant comes
from the index (`/whl/cu126`), from a local version in the requirement (`torch==2.6.0+cu126`), from
uv's `--torch-backend`, or, with no index at all, from PyPI, whose Linux wheel is a CUDA build that
changes with the torch release (cu124 for 2.5-2.6, cu126 for 2.7, cu128 for 2.8-2.10, cu130 for
2.11-2.14, cu132 for 2.15).

The rule judges compatibility, not string equality:

| base image | wheel | verdict |
|---|---|---|
| CUDA X.Y (`nvidia/cuda:12.8.1-...`) | cuX.Z with Z <= Y (cu126 on 12.8) | fine |
| CUDA X.Y | cuX.Z with Z > Y, or another CUDA major | error |
| CUDA | cpu, rocm or xpu wheels | error |
| CUDA | PyPI default (no index) | error when its CUDA does not fit, else warning (see below) |
| ROCm (`rocm/dev-ubuntu-*`, `rocm/pytorch`) | CUDA wheels (explicit or PyPI default) or cpu wheels | error |
| XPU / TPU | CUDA or ROCm wheels | error |
| CPU (`python`, `debian`, `ubuntu`) | CUDA wheels, from PyPI or an index | warning |

A PyPI default on a CUDA base is implicit: the variant changes with the torch version and the wheels
bring their own copy of the CUDA libraries the base already has. CUDA wheels on a CPU base add GBs
of CUDA libraries to an image with no GPU story.

A CPU-based builder stage whose files are copied (`COPY --from=`) into a GPU stage is judged against
that GPU stage. Unknown bases and custom indexes are not judged.

Bad:

```dockerfile
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04
RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu
```

Good:

```dockerfile
FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04
RUN pip install --no-cache-dir torch==2.7.1 --index-url https://download.pytorch.org/whl/cu126
```
"""

_THIS = sys.modules[__name__]


def judge(base: acc.Accelerator, wheel: acc.WheelVariant) -> tuple[Severity, str] | None:
    """(severity, reason) when the wheel does not fit the base; None when it does or nobody knows."""
    where = f"a {base.describe()} base ({base.image})"
    what = f"torch {wheel.describe()} wheels ({wheel.source})"
    if base.kind == "cuda":
        if wheel.kind != "cuda":
            return "error", f"{what} in {where}: the GPU is unused"
        if base.version is None or wheel.version is None:
            return (
                ("warning", f"{what} in {where}: the variant is implicit") if wheel.source == "PyPI default" else None
            )
        (bmaj, bmin), (wmaj, wmin) = base.version, wheel.version
        if wmaj != bmaj:
            return "error", f"{what} in {where}: CUDA {wmaj} wheels on a CUDA {bmaj} image"
        if bmin is not None and wmin is not None and wmin > bmin:
            return (
                "error",
                f"{what} in {where}: wheels built for CUDA {wmaj}.{wmin} need at least that runtime",
            )
        if wheel.source == "PyPI default":
            return "warning", f"{what} in {where}: the variant is implicit and changes with the torch version"
        return None
    if base.kind == "rocm":
        if wheel.kind in ("cuda", "cpu", "xpu"):
            return "error", f"{what} in {where}: ROCm images need /whl/rocmX.Y wheels"
        if wheel.kind == "rocm" and base.version and wheel.version and wheel.version[0] != base.version[0]:
            return "warning", f"{what} in {where}: a different ROCm major"
        return None
    if base.kind in ("xpu", "tpu"):
        if wheel.kind in ("cuda", "rocm"):
            return "error", f"{what} in {where}: use /whl/xpu (XPU) or /whl/cpu (TPU, with torch_xla)"
        return None
    if base.kind == "cpu" and wheel.kind in ("cuda", "rocm"):
        return "warning", f"{what} in {where}: GBs of GPU libraries in an image with no GPU runtime"
    return None


def check(model: DockerfileModel) -> Iterator[Finding]:
    for torch in torch_installs(model):
        stage = torch.where.inst.stage
        if torch.variant is None or stage is None:
            continue
        base = stage_accelerator(model, stage)
        if base is None:
            continue
        verdict = judge(base, torch.variant)
        if verdict:
            severity, reason = verdict
            line, col = model.locate(torch.where.inst, torch.requirement.raw)
            yield finding(_THIS, model, line, col, reason, severity=severity)
