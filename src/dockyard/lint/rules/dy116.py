"""DY116: a pinned torch that a later unconstrained install can replace."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import InstallSite, install_sites_by_stage
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY116"
NAME = "torch-pin-not-protected"
SEVERITY = "warning"
MESSAGE = "a pinned torch can be replaced by a later install that is not constrained"
FIX = (
    "Constrain later installs to the torch you pinned: write `torch==X` to a constraints file and pass "
    "`-c constraints.txt` (or set `PIP_CONSTRAINT` / `UV_CONSTRAINT`), repeat the pin in the same command, "
    "or install torch last."
)
DOCS = """\
Installing torch first from the right index and then "the rest" from PyPI is the usual pattern, and
it breaks in a quiet way: when a later package wants another torch (an unpinned `torchvision` or
`torchaudio`, `accelerate`, a `-r requirements.txt`, a git checkout), pip replaces the carefully chosen
torch with PyPI's default build: another version and another CUDA. transformers' GPU images ship a
`check-torch.sh` after installs because a later `pip install` clobbered the pinned torch
(`undefined symbol: ncclCommResume`).

The rule fires for a pip/uv install that comes after a `torch==X` pin in the same stage chain when it
installs a package known to depend on torch, a requirements file, a local project or a git URL, and
has no protection: no `-c`/`--constraint` (or `PIP_CONSTRAINT`/`UV_CONSTRAINT`), no `--no-deps`, and
no repeated `torch==` pin in the same command.

Bad:

```dockerfile
RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128
RUN pip install --no-cache-dir torchvision accelerate
```

Good:

```dockerfile
RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128 \\
    && echo "torch==2.8.0" > /tmp/constraints.txt
RUN pip install --no-cache-dir -c /tmp/constraints.txt torchvision accelerate
```
"""

_THIS = sys.modules[__name__]
# Packages that declare a dependency on torch (their PyPI metadata), so installing them can change it.
TORCH_DEPENDENTS = {
    "torchvision",
    "torchaudio",
    "torchcodec",
    "torchao",
    "torchtext",
    "torchdata",
    "accelerate",
    "peft",
    "timm",
    "trl",
    "deepspeed",
    "bitsandbytes",
    "sentence-transformers",
    "lightning",
    "pytorch-lightning",
    "xformers",
    "vllm",
    "flash-attn",
    "optimum-quanto",
    "auto-gptq",
    "gptqmodel",
    "compressed-tensors",
    "torchmetrics",
    "open-clip-torch",
    "kernels",
    "liger-kernel",
    "triton",
    "torch-xla",
    "fairscale",
    "apex",
    "einops-exts",
    "torchdiffeq",
    "torchsde",
    "spandrel",
    "sglang",
    "autoawq",
    "hqq",
    "fp-quant",
    "mamba-ssm",
    "causal-conv1d",
}
_TORCH_EXTRAS = re.compile(r"\[[^\]]*\btorch\b[^\]]*\]")


def _pins_torch(where: InstallSite) -> bool:
    return any(r.name == "torch" and re.search(r"===?", r.specifier) for r in where.requirements()) or any(
        r.name == "torch" and r.url.endswith(".whl") for r in where.requirements()
    )


def _protected(where: InstallSite) -> bool:
    install, site = where.install, where.site
    if install.option("--constraint") or install.option("--override") or install.has("--no-deps"):
        return True
    if site.getenv("PIP_CONSTRAINT") or site.getenv("UV_CONSTRAINT") or site.getenv("UV_OVERRIDE"):
        return True
    return _pins_torch(where)


def _risky(where: InstallSite) -> str | None:
    """What in this install can pull another torch, or None."""
    if where.install.option("--requirement"):
        return f"-r {where.install.option('--requirement')[0]}"
    for req in where.requirements():
        if req.name == "torch":
            continue
        if req.name in TORCH_DEPENDENTS or (req.name and _TORCH_EXTRAS.search(req.raw)):
            if not req.specifier or not re.search(r"===?", req.specifier):
                return req.raw
            if req.name in ("torchvision", "torchaudio"):
                continue  # pinned companions: the pair was chosen together
            return req.raw
        if req.vcs or (req.local and not req.raw.endswith(".whl")):
            return req.raw
    return None


def check(model: DockerfileModel) -> Iterator[Finding]:
    for stage in model.stages:
        pinned_at: int | None = None
        by_stage = install_sites_by_stage(model)
        for where in (w for s in stage.chain() for w in by_stage.get(s.index, [])):
            if where.install.tool not in ("pip", "uv"):
                continue
            if where.install.subcommand not in ("install", "add", "sync"):
                continue
            if _pins_torch(where):
                pinned_at = where.inst.start_line
                continue
            if pinned_at is None or where.inst.stage is not stage or _protected(where):
                continue
            risky = _risky(where)
            if risky:
                line, col = model.locate(where.inst, risky)
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"`{risky}` may replace the torch pinned on line {pinned_at}: "
                    "this install has no constraint on torch",
                )
