"""DY110: unpinned remote code."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import all_sites, install_sites
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, expand
from dockyard.lint.packages import vcs_ref
from dockyard.lint.rules.base import finding
from dockyard.lint.rules.dy108 import SHA

CODE = "DY110"
NAME = "unpinned-remote-code"
SEVERITY = "warning"
MESSAGE = "remote code is installed or run without pinning it"
FIX = (
    "Pin remote code: `git+https://...@<full commit sha>`, a released version from an index, "
    "`ADD --checksum=sha256:... <versioned URL>`, or download an installer at a fixed version, check its "
    "hash, then run it."
)
DOCS = """\
Code fetched from a moving reference changes under the same Dockerfile: a branch, `main`, a
`latest` URL, an install script piped into a shell. A rebuild can pick up a broken or compromised
version with no change in the repository, and nobody can say which code an image contains.

Flagged:

- `pip install git+https://...` (also `uv pip install`, `name @ git+...`) without `@<commit sha>`;
  a branch or tag is not a commit (`@main`, `@v1.0`); a build ARG whose default is a commit is fine;
- `curl ... | sh`, `wget -qO- ... | bash`, `curl ... | python`, `sh -c "$(curl ...)"`, `bash <(curl ...)`;
- `ADD` of an http(s) URL that moves (`/main/`, `/master/`, `/latest/`, `refs/heads`, `HEAD`,
  `nightly`) without `--checksum`, and `ADD` of a git repository without a commit.

Bad:

```dockerfile
RUN curl -LsSf https://astral.sh/uv/install.sh | sh
RUN pip install --no-cache-dir "git+https://github.com/huggingface/peft@main"
```

Good:

```dockerfile
COPY --from=ghcr.io/astral-sh/uv:0.9.5 /uv /usr/local/bin/uv
RUN pip install --no-cache-dir "git+https://github.com/huggingface/peft@3f5b3a5c9c1a4f4e8c1d2b6a7e9f0a1b2c3d4e5f"
```
"""

_THIS = sys.modules[__name__]
_FETCH = {"curl", "wget"}
_RUNNERS = re.compile(r"^(?:.*/)?(?:sh|bash|zsh|dash|ash|python[\d.]*|perl|ruby|node)$")
_MOVING = re.compile(r"/(?:main|master|latest|nightly|HEAD|develop|trunk)(?:/|\.|$)|refs/heads|[?&]ref=main", re.I)
_SUBSHELL_FETCH = re.compile(r"\$\(\s*(?:curl|wget)\b|<\(\s*(?:curl|wget)\b")


def _pipe_findings(model: DockerfileModel) -> Iterator[Finding]:
    previous = None
    for site in all_sites(model):
        argv = site.cmd.argv
        if (
            previous is not None
            and previous.inst is site.inst
            and site.cmd.piped_from_previous
            and previous.cmd.name.rsplit("/", 1)[-1] in _FETCH
            and argv
            and _RUNNERS.match(argv[0])
        ):
            line, col = model.locate(site.inst, previous.cmd.name)
            yield finding(
                _THIS,
                model,
                line,
                col,
                f"{previous.cmd.name} output is piped into {argv[0]}: an unpinned script runs at build time",
            )
        if argv and _RUNNERS.match(argv[0]) and any(_SUBSHELL_FETCH.search(w.raw) for w in site.cmd.words):
            line, col = model.locate(site.inst, argv[0])
            yield finding(
                _THIS,
                model,
                line,
                col,
                f"{argv[0]} runs a script fetched with curl/wget: an unpinned script runs at build time",
            )
        previous = site


def check(model: DockerfileModel) -> Iterator[Finding]:
    for where in install_sites(model):
        if where.install.tool not in ("pip", "uv"):
            continue
        for req in where.requirements():
            if req.vcs:
                ref = vcs_ref(req.url)
                if ref is not None and "$" in ref:
                    continue  # a build ARG without a default: cannot tell
                if ref is None or not SHA.match(ref):
                    line, col = model.locate(where.inst, "git+")
                    what = "no ref" if ref is None else f"@{ref}"
                    yield finding(
                        _THIS,
                        model,
                        line,
                        col,
                        f"{req.url} is installed from git with {what}, not a commit: the code changes between builds",
                    )
            elif req.url and _MOVING.search(req.url):
                line, col = model.locate(where.inst, req.url[:20])
                yield finding(_THIS, model, line, col, f"{req.url} is a moving URL")
    yield from _pipe_findings(model)
    for inst in model.instructions:
        if inst.keyword != "ADD" or inst.stage is None:
            continue
        if inst.flag("checksum"):
            continue
        env = model.env_before(inst)
        for source in inst.value[:-1]:
            url = expand(source, env)
            is_git = url.endswith(".git") or ".git#" in url or url.startswith("git@")
            if is_git:
                ref = url.split("#", 1)[1].split(":", 1)[0] if "#" in url else ""
                if not SHA.match(ref):
                    yield finding(_THIS, model, inst.start_line, 1, f"ADD {url} adds a git repository without a commit")
            elif url.startswith(("http://", "https://")) and _MOVING.search(url):
                yield finding(_THIS, model, inst.start_line, 1, f"ADD {url} downloads a moving URL without --checksum")
