"""DY109: the final stage runs as root."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, expand
from dockyard.lint.rules.base import finding

CODE = "DY109"
NAME = "final-stage-runs-as-root"
SEVERITY = "warning"
MESSAGE = "the final image runs as root"
FIX = (
    "Create an unprivileged user and switch to it at the end of the final stage: "
    "`RUN useradd --create-home --uid 1000 app` then `USER 1000:1000` (or `USER app`)."
)
DOCS = """\
A container that runs as root turns any escape through a model loader (pickle files, `trust_remote_code`,
a vulnerable tokenizer) into root on the shared volumes and, with a misconfigured runtime, on the host.
Almost every ML base image (nvidia/cuda, rocm, python, ubuntu) runs as root unless told otherwise.

The rule looks at the last stage, the image that ships, following `FROM <stage>` links: the last
`USER` in that chain decides. It fires when there is no `USER` at all, for `USER root`, `USER 0`,
`USER 0:0`, and for `USER ${UID}` when the ARG defaults to 0. A `USER` whose value is a build ARG
without a default is not judged. Bases that are non-root by design (`:nonroot` tags, Chainguard
images) pass.

Bad:

```dockerfile
FROM python:3.12-slim
RUN pip install --no-cache-dir transformers==4.57.1
CMD ["python", "-m", "app"]
```

Good:

```dockerfile
FROM python:3.12-slim
RUN pip install --no-cache-dir transformers==4.57.1 && useradd --create-home --uid 1000 app
USER 1000:1000
CMD ["python", "-m", "app"]
```
"""

_THIS = sys.modules[__name__]
_NONROOT_BASES = ("cgr.dev/chainguard/",)


def is_root(user: str) -> bool | None:
    """True/False, or None when it cannot be told (an unresolved variable)."""
    name = user.strip().strip("'\"").split(":", 1)[0]
    if not name or "$" in name:
        return None
    return name in ("root", "0")


def check(model: DockerfileModel) -> Iterator[Finding]:
    final = model.final_stage
    if final is None:
        return
    users = [i for i in final.chain_instructions() if i.cmd == "USER"]
    if not users:
        base = final.root_base.lower()
        if ":nonroot" in base or "-nonroot" in base or base.startswith(_NONROOT_BASES):
            return
        inst = final.from_instruction
        yield finding(
            _THIS,
            model,
            inst.start_line,
            1,
            f"the final stage (line {inst.start_line}) has no USER: it runs as root",
        )
        return
    last = users[-1]
    raw = last.value[0] if last.value else ""
    value = expand(raw, model.env_before(last), keep_unknown=True)
    verdict = is_root(value)
    if verdict:
        how = f"USER {raw}" + (f" (= {value})" if value != raw else "")
        yield finding(_THIS, model, last.start_line, 1, f"{how} makes the final image run as root")
