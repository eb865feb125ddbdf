"""DY102: torch fetched through --extra-index-url."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import TORCH_FAMILY, install_sites
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY102"
NAME = "torch-from-extra-index"
SEVERITY = "warning"
MESSAGE = "torch is fetched through --extra-index-url: an index race decides the variant"
FIX = (
    "Use `--index-url https://download.pytorch.org/whl/<variant>` for the torch install (in its own "
    "command if other packages need PyPI), or pin the variant with a local version (`torch==2.6.0+cu126`)."
)
DOCS = """\
With `--extra-index-url` pip treats PyPI and the PyTorch index as one pool and takes the best
version it finds in either. Which wheel wins depends on what each index holds that day: the PyPI
build (a CUDA wheel of PyPI's choice), the `+cpu` build or the `+cuXYZ` build. The same Dockerfile
then builds different images, and a CPU image silently gains GBs of CUDA libraries (or the reverse).
`PIP_EXTRA_INDEX_URL` has the same effect.

uv is not affected by default: it takes a package from the first index that has it (extra indexes
first), so the rule only fires for uv with `--index-strategy unsafe-best-match`. A requirement with a
local version (`torch==2.6.0+cu126`) exists only on the PyTorch index and is not racy.

Bad:

```dockerfile
RUN pip install --no-cache-dir torch torchvision --extra-index-url https://download.pytorch.org/whl/cpu
```

Good:

```dockerfile
RUN pip install --no-cache-dir torch==2.6.0 torchvision==0.21.0 --index-url https://download.pytorch.org/whl/cpu
```
"""

_THIS = sys.modules[__name__]
_TORCH_INDEX = re.compile(r"download\.pytorch\.org|/whl/(?:nightly/|test/)?(?:cpu|cu\d+|rocm[\d.]+|xpu)\b")


def check(model: DockerfileModel) -> Iterator[Finding]:
    for where in install_sites(model):
        install = where.install
        if install.tool not in ("pip", "uv") or install.subcommand not in ("install", "add"):
            continue
        if install.tool == "uv":
            strategy = install.option("--index-strategy") or [where.site.getenv("UV_INDEX_STRATEGY") or ""]
            if strategy[0] != "unsafe-best-match":
                continue
        primary, extra = where.index_urls()
        racy = [u for u in extra if _TORCH_INDEX.search(u)]
        if not racy or any(_TORCH_INDEX.search(u) for u in primary):
            continue
        for req in where.requirements():
            if req.name in TORCH_FAMILY and "+" not in req.specifier and not req.url and not req.local:
                line, col = model.locate(where.inst, "extra-index-url")
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"{req.name} is fetched through --extra-index-url {racy[0]}: "
                    "an index race between PyPI and the PyTorch index decides the variant",
                )
                break
