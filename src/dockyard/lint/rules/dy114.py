"""DY114: LD_LIBRARY_PATH or PATH with an empty or relative element."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.knowledge.accelerators import base_accelerator, split_image
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, Instruction, expand
from dockyard.lint.rules.base import finding

CODE = "DY114"
NAME = "search-path-with-empty-element"
SEVERITY = "warning"
MESSAGE = "a search path has an empty or relative element"
FIX = (
    "Only list absolute directories; append an existing value without leaving an empty element: "
    "`ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}`; write `/root` "
    "instead of `~` (ENV does not expand it)."
)
DOCS = """\
An empty element in `PATH` or `LD_LIBRARY_PATH` (a leading or trailing `:`, or `::`) means the current
directory: binaries and shared libraries are looked up in whatever directory the process runs in, a
classic way to load the wrong `libcuda.so` or a planted library. A relative element (`bin`,
`./lib`, `~/.local/bin`: `ENV` does not expand `~`) depends on the working directory in the same way.

The common cause in ML images is `ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH` on a
base that does not set `LD_LIBRARY_PATH`: the reference expands to nothing and leaves a trailing `:`.
The rule knows that `nvidia/cuda`, NGC and `rocm/*` images set `LD_LIBRARY_PATH`, and that every
image has `PATH`; references to variables it cannot resolve on other bases are not judged.

Bad:

```dockerfile
FROM python:3.12-slim
ENV LD_LIBRARY_PATH=/opt/venv/lib:$LD_LIBRARY_PATH
ENV PATH=~/.local/bin:$PATH
```

Good:

```dockerfile
FROM python:3.12-slim
ENV LD_LIBRARY_PATH=/opt/venv/lib
ENV PATH=/root/.local/bin:$PATH
```
"""

_THIS = sys.modules[__name__]
_VARS = ("PATH", "LD_LIBRARY_PATH")
# Bases known to set LD_LIBRARY_PATH themselves (nvidia/cuda: /usr/local/nvidia/lib:/usr/local/nvidia/lib64).
_SETS_LD_PATH = ("nvidia/cuda", "nvcr.io/nvidia/", "rocm/", "intel/")


def _base_sets(model: DockerfileModel, inst: Instruction, name: str) -> bool | None:
    """Whether the base image sets `name`: True, False, or None when unknown."""
    if name == "PATH":
        return True
    stage = inst.stage
    if stage is None:
        return None
    image, _ = split_image(stage.root_base)
    if image.startswith(_SETS_LD_PATH):
        return True
    accel = base_accelerator(stage.root_base)
    return False if accel is not None and accel.kind == "cpu" else None


def check(model: DockerfileModel) -> Iterator[Finding]:
    for inst in model.instructions:
        if inst.cmd != "ENV":
            continue
        env = model.env_before(inst)
        for name, value in inst.pairs():
            if name not in _VARS or value is None:
                continue
            bad = _problem(model, inst, name, value, env)
            if bad:
                line, col = model.locate(inst, name)
                yield finding(_THIS, model, line, col, f"{name}={value}: {bad}")


def _problem(model: DockerfileModel, inst: Instruction, name: str, value: str, env: dict[str, str | None]) -> str:
    scope: dict[str, str | None] = dict(env)
    unset_by_base = []
    for var in _VARS:
        if var not in scope:
            sets = _base_sets(model, inst, var)
            if sets is True:
                scope[var] = "/set/by/base"
            elif sets is False:
                scope[var] = ""
                unset_by_base.append(var)
    expanded = expand(value, scope)
    for element in expanded.split(":"):
        if element == "":
            used = [v for v in unset_by_base if re.search(rf"\$\{{?{v}\b", value)]
            if used:
                return f"${used[0]} is not set by the base image, leaving an empty element (the current directory)"
            return "an empty element means the current directory"
        if "$" in element:
            continue  # a variable nobody can resolve here
        if element.startswith("~"):
            return f"`{element}`: ENV does not expand `~`, so this is a relative directory"
        if not element.startswith("/"):
            return f"`{element}` is a relative directory"
    return ""
