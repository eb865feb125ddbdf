"""DY102: torch fetched through --extra-index-url."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.knowledge.loader import imports_table
from dockyard.lint.analysis import TORCH_FAMILY, InstallSite, install_sites, torch_installs
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

A package that requires torch (accelerate, timm, peft, ...) has the same race: `pip install accelerate
--extra-index-url .../cu126` pulls torch from whichever index wins, unless torch is already installed in the
stage (pip keeps an installed torch that satisfies the requirement) or the install has `--no-deps`.

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
        requirements = where.requirements()
        direct = [r for r in requirements if r.name in TORCH_FAMILY]
        for req in direct:
            if "+" not in req.specifier and not req.url and not req.local:
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
        if direct or install.has("--no-deps") or _torch_before(model, where):
            continue
        pulling = next((r.name for r in requirements if r.name in _dependents()), None)
        if pulling:
            line, col = model.locate(where.inst, "extra-index-url")
            yield finding(
                _THIS,
                model,
                line,
                col,
                f"{pulling} requires torch, and no torch is installed before it: torch is pulled in through "
                f"--extra-index-url {racy[0]}, where an index race decides its variant",
                fix="Install torch first with `--index-url https://download.pytorch.org/whl/<variant>` (pinned), "
                    "then the packages that need it from PyPI alone.",
            )


def _dependents() -> set[str]:
    """Packages that require torch (knowledge/imports.toml [torch_dependents])."""
    return set(imports_table().get("torch_dependents", {}).get("packages", []))


def _torch_before(model: DockerfileModel, where: InstallSite) -> bool:
    """Whether torch is installed earlier in the stage chain of `where` (pip then keeps it)."""
    stage = where.inst.stage
    chain = {s.index for s in stage.chain()} if stage else set()
    return any(t.where.inst.stage is not None and t.where.inst.stage.index in chain
               and (t.where.inst.index, t.where.site.position) < (where.inst.index, where.site.position)
               for t in torch_installs(model))
