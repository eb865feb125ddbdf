"""DY113: the final image is a -devel base although nothing compiles in it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.knowledge.accelerators import split_image
from dockyard.lint.analysis import install_sites, sites
from dockyard.lint.builds import compiles
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, Stage
from dockyard.lint.rules.base import finding

CODE = "DY113"
NAME = "devel-base-without-compile"
SEVERITY = "warning"
MESSAGE = "the final image is built on a -devel base although nothing compiles in it"
FIX = (
    "Use the `-runtime` (or `-base`) flavour for the final stage, e.g. `nvidia/cuda:12.8.1-cudnn-runtime-"
    "ubuntu24.04`; if something must compile, do it in a `-devel` builder stage and COPY the result."
)
DOCS = """\
The `-devel` flavour of `nvidia/cuda` (and `pytorch/pytorch`) adds nvcc, headers and static
libraries: several GB on top of `-runtime`. It is only needed to compile CUDA code. When nothing in the
final image's stages compiles, the final image carries the toolchain for nothing: transformers' GPU
images use `-devel` bases throughout, one reason they reach 6-8 GB.

The rule follows the final stage through `FROM <stage>` links to the external base. It stays quiet
when anything in that chain compiles or may compile CUDA code: an extension build (flash-attn,
DeepSpeed ops, apex, ...), `nvcc`, `cmake`, `make`, `ninja`, `python setup.py`, a pip install with
`--no-build-isolation` or `--no-binary`, DeepSpeed (its ops are JIT-compiled at run time), or
`TORCH_CUDA_ARCH_LIST` being set.

Bad:

```dockerfile
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04
RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128
```

Good:

```dockerfile
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128
```
"""

_THIS = sys.modules[__name__]
_DEVEL_IMAGES = ("nvidia/cuda", "nvcr.io/nvidia/cuda", "pytorch/pytorch")
_COMPILERS = re.compile(r"^(?:.*/)?(?:nvcc|hipcc|cmake|make|ninja|gcc|g\+\+|cc|c\+\+|clang|clang\+\+|cargo)$")


def _compiles_in(model: DockerfileModel, chain: list[Stage]) -> bool:
    if any(c.site.inst.stage in chain for c in compiles(model)):
        return True
    for where in install_sites(model):
        if where.inst.stage not in chain:
            continue
        if where.install.has("--no-build-isolation") or "--no-binary" in where.install.options:
            return True
        if any(r.name == "deepspeed" for r in where.requirements()):
            return True
    for stage in chain:
        for inst in stage.instructions:
            if inst.cmd in ("ENV", "ARG") and any(n == "TORCH_CUDA_ARCH_LIST" for n, _ in inst.pairs()):
                return True
            if inst.keyword != "RUN":
                continue
            for site in sites(model, inst):
                argv = site.cmd.argv
                if argv and _COMPILERS.match(argv[0]):
                    return True
                if len(argv) >= 2 and argv[0].startswith("python") and argv[1] == "setup.py":
                    return True
    return False


def check(model: DockerfileModel) -> Iterator[Finding]:
    final = model.final_stage
    if final is None:
        return
    name, tag = split_image(final.root_base)
    if name not in _DEVEL_IMAGES or not re.search(r"(^|-)devel(-|$)", tag):
        return
    if _compiles_in(model, final.chain()):
        return
    inst = final.root_from
    line, col = model.locate(inst, "devel")
    yield finding(
        _THIS,
        model,
        line,
        col,
        f"the final image is built on {final.root_base}, but nothing in it compiles: the CUDA toolchain adds GBs",
    )
