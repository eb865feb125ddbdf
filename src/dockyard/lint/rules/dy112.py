"""DY112: shell pitfalls in package specs."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import install_sites, run_instructions
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY112"
NAME = "shell-pitfall-in-package-spec"
SEVERITY = "error"
MESSAGE = "a package spec is mangled by the shell"
FIX = (
    "Quote requirements with operators (`pip install \"numpy<2\" 'torch>=2.6'`), write build args as "
    "`${NAME}` inside version strings, and redeclare a global ARG (`ARG NAME`) inside the stage that uses it."
)
DOCS = """\
A RUN line is a shell command, and the shell gets the first look at a requirement:

- `pip install torch>=2.6` is `pip install torch` with its output redirected to a file named `=2.6`;
  `pip install numpy<2` reads standard input from a file named `2`, which fails or, worse, exists.
  The version constraint is silently lost.
- `pip install "torchvision==TORCH_VISION.*"` passes the ARG's *name*, not its value: the `$` is
  missing (transformers' old GPU image had `VERSION='torchvision=='TORCH_VISION'.*'`).
- an `ARG` declared before the first `FROM` is only visible inside a stage that declares it again
  (`ARG TORCH_VERSION` with no value); without that, `torch==${TORCH_VERSION}` becomes `torch==`.

Bad:

```dockerfile
ARG TORCH_VERSION=2.6.0
FROM python:3.12-slim
RUN pip install --no-cache-dir torch==${TORCH_VERSION} numpy<2
```

Good:

```dockerfile
ARG TORCH_VERSION=2.6.0
FROM python:3.12-slim
ARG TORCH_VERSION
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" "numpy<2"
```
"""

_THIS = sys.modules[__name__]
_OPERATOR_THEN_NAME = re.compile(r"(?:===|==|>=|<=|~=|!=)\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)")
_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def check(model: DockerfileModel) -> Iterator[Finding]:
    for where in install_sites(model):
        if where.install.tool not in ("pip", "uv", "conda"):
            continue
        cmd = where.site.cmd
        for redirect in cmd.redirects:
            if redirect.attached and redirect.op in (">", "<", ">>") and re.match(r"^[=\d]", redirect.target):
                before = [w.value for w in cmd.words if w.offset < redirect.offset]
                name = before[-1] if before else "the requirement"
                spec = f"{name}{redirect.op}{redirect.target}"
                line, col = model.locate(where.inst, spec)
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"unquoted `{spec}`: the shell reads `{redirect.op}` as a "
                    f"redirection and installs {name} without the constraint",
                )
        for word in where.install.requirements:
            for ref in _VAR_REF.findall(word.value):
                if ref not in where.site.vars and ref in model.global_args:
                    line, col = model.locate(where.inst, word.raw)
                    yield finding(
                        _THIS,
                        model,
                        line,
                        col,
                        f"`{word.value}` uses ARG {ref}, declared before FROM "
                        "but not redeclared in this stage: it expands to an empty string",
                    )
    for inst in run_instructions(model):
        matches = list(_OPERATOR_THEN_NAME.finditer(inst.script))
        env = model.env_before(inst) if matches else {}
        for match in matches:
            name = match.group(1)
            if name.upper() == name and ((len(name) > 2 and name in env) or name in model.global_args):
                line, col = model.locate(inst, match.group(0))
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"`{match.group(0)}` uses the name of ARG {name} without `$`: the version is the literal text",
                )
