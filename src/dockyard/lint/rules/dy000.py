"""DY000: the file cannot be parsed as a Dockerfile."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import dockerfile

from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY000"
NAME = "unparsable-dockerfile"
SEVERITY = "error"
MESSAGE = "the Dockerfile cannot be parsed"
FIX = "Fix the syntax at the reported line; `docker build` fails on this file as it is."
DOCS = """\
The file is read with the BuildKit parser, the one `docker build` uses. When that parser rejects the
file (an unterminated heredoc, an `ENV` without a value, a line over 64 KiB, an empty file) or BuildKit
would reject an instruction (an unknown instruction, an instruction other than `ARG` before the first
`FROM`, no `FROM` at all), nothing else can be checked reliably and the build fails anyway. A binary
file (one that holds NUL bytes) is reported as such, once, and nothing else runs on it.

The message is the parser's own. Other rules still run on what could be parsed when the problem is an
instruction-level one (an unknown instruction); they do not run when the parser gave up.

Bad:

```dockerfile
FROM python:3.12-slim
RUN <<EOT
pip install --no-cache-dir transformers
```

Good:

```dockerfile
FROM python:3.12-slim
RUN <<EOT
pip install --no-cache-dir transformers
EOT
```
"""

KNOWN = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
_THIS = sys.modules[__name__]


def _fails(lines: list[str], k: int, message: str) -> bool:
    try:
        dockerfile.parse_string("\n".join(lines[:k]) + "\n")
    except dockerfile.GoParseError as exc:
        return str(exc) == message
    except Exception:  # pragma: no cover - the binding raising anything else
        return False
    return False


def _error_line(model: DockerfileModel, message: str) -> int:
    """The first line at which a prefix of the file fails with the same message: a linear scan for
    short files, a binary search (about 12 parses) for long ones."""
    lines = model.lines
    if not lines or "no instructions" in message:
        return 1
    found = len(lines)
    if len(lines) <= 200:
        found = next((k for k in range(1, len(lines) + 1) if _fails(lines, k, message)), len(lines))
    else:
        low, high = 1, len(lines)
        while low < high:
            mid = (low + high) // 2
            if _fails(lines, mid, message):
                high = mid
            else:
                low = mid + 1
        found = low
    if "heredoc" in message:
        for back in range(found, 0, -1):
            if "<<" in lines[back - 1]:
                return back
    return max(1, found)


def check(model: DockerfileModel) -> Iterator[Finding]:
    if model.binary:
        yield finding(_THIS, model, 1, 1, f"not a Dockerfile: {model.parse_error}",
                      fix="Lint the Dockerfile itself; if this is one, save it as UTF-8 text.")
        return
    if model.parse_error is not None:
        line = _error_line(model, model.parse_error)
        yield finding(_THIS, model, line, 1, f"the Dockerfile cannot be parsed: {model.parse_error}")
        return
    seen_from = False
    for inst in model.instructions:
        if inst.cmd not in KNOWN:
            yield finding(_THIS, model, inst.start_line, 1, f"unknown instruction: {inst.cmd}")
        elif inst.cmd == "FROM":
            seen_from = True
            if not inst.value or (len(inst.value) not in (1, 3)):
                yield finding(_THIS, model, inst.start_line, 1, "FROM requires either one or three arguments")
        elif inst.cmd == "ONBUILD" and (not inst.sub_cmd or inst.sub_cmd.upper() not in KNOWN):
            yield finding(_THIS, model, inst.start_line, 1, "ONBUILD needs an instruction to trigger")
        elif not seen_from and inst.cmd != "ARG":
            yield finding(
                _THIS, model, inst.start_line, 1, f"{inst.cmd} before the first FROM: only ARG may come first"
            )
    if model.instructions and not seen_from:
        yield finding(_THIS, model, model.instructions[0].start_line, 1, "no FROM instruction: nothing to build")
