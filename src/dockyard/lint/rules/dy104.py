"""DY104: a CUDA/ROCm extension compiled without bounded parallelism."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import Site
from dockyard.lint.builds import compiles
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY104"
NAME = "unbounded-extension-build"
SEVERITY = "warning"
MESSAGE = "a CUDA/ROCm extension is compiled without a bounded MAX_JOBS"
FIX = (
    "Bound the parallel compile jobs: `ARG MAX_JOBS=4` (or `ENV MAX_JOBS=4`) before the RUN, sized to "
    "the builder's memory (about 4-8 GB per nvcc job); not `$(nproc)`."
)
DOCS = """\
`torch.utils.cpp_extension` (flash-attn, DeepSpeed ops, apex, detectron2, mamba-ssm, ...) compiles
with ninja, which starts one job per CPU core unless `MAX_JOBS` says otherwise. Each nvcc/hipcc job
can take several GB of RAM, so on a 32-core builder the compile is killed by the OOM killer, often
without a clear message (flash-attn's README: "if your machine has less than 96GB of RAM and lots of
CPU cores, ninja might run too many parallel compilation jobs"; transformers' DeepSpeed image used
`MAX_JOBS=1` to stop apex builds from running out of memory on CI runners).

The rule fires when such a package is built from source (pip/uv install of the package, a git URL or a
local clone, `python setup.py` in its clone, DeepSpeed with `DS_BUILD_*=1`) and `MAX_JOBS` is unset,
empty, or computed from `$(nproc)`. `MAX_JOBS` may come from `ARG` (with a default), `ENV`, `export` or
a `MAX_JOBS=4 pip install ...` prefix. DeepSpeed's `build_ext -jN` build option also counts as bounded.
Installs marked as not compiling (`FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE`) and prebuilt wheel indexes
(`-f https://data.pyg.org/...`) are not flagged.

Bad:

```dockerfile
RUN MAX_JOBS=$(nproc) pip install --no-build-isolation flash-attn==2.8.3
```

Good:

```dockerfile
ARG MAX_JOBS=4
RUN pip install --no-build-isolation flash-attn==2.8.3
```
"""

_THIS = sys.modules[__name__]


def bounded(site: Site) -> tuple[bool, str]:
    """(is bounded, why not)."""
    argv = " ".join(site.cmd.argv)
    if "build_ext" in argv and re.search(r"-j\s*\d+", argv):
        return True, ""  # DeepSpeed-style `--build-option=build_ext --build-option=-j8`
    if "MAX_JOBS" not in site.env:
        return False, "MAX_JOBS is not set"
    raw = site.env.get("MAX_JOBS")
    value = (site.getenv("MAX_JOBS") or "").strip().strip("'\"")
    if (raw is not None and "nproc" in raw) or "nproc" in value or "getconf" in value:
        return False, "MAX_JOBS is computed from the CPU count"
    if not value:
        return False, "MAX_JOBS is empty (an ARG without a default)"
    if not value.isdigit() or int(value) < 1:
        return False, f"MAX_JOBS={value} is not a positive number"
    return True, ""


def check(model: DockerfileModel) -> Iterator[Finding]:
    seen: set[int] = set()
    for item in compiles(model):
        ok, why = bounded(item.site)
        if ok or item.site.inst.index in seen:
            continue
        seen.add(item.site.inst.index)
        line, col = model.locate(item.site.inst, item.site.cmd.words[0].raw if item.site.cmd.words else "")
        yield finding(_THIS, model, line, col, f"{item.package} is compiled but {why}: ninja runs one job per core")
