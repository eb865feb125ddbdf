"""DY108: a full git clone (no --depth and no checkout of a fixed commit)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import all_sites, sites
from dockyard.lint.builds import git_clone_target
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding

CODE = "DY108"
NAME = "full-git-clone"
SEVERITY = "warning"
MESSAGE = "a full git clone downloads the whole history for a moving branch"
FIX = (
    "Clone shallowly at a tag or branch (`git clone --depth 1 --branch v1.2.3 URL`), or fetch one commit "
    "(`git init && git fetch --depth 1 origin <sha> && git checkout FETCH_HEAD`), or check out a fixed "
    "commit."
)
DOCS = """\
`git clone URL` fetches every commit of the repository (transformers: over 1 GB of history) and
checks out whatever the default branch points to at build time. The build is slower, the layer is
larger unless `.git` is removed in the same RUN, and two builds of the same Dockerfile get different
code.

The rule accepts a clone with `--depth`, `--shallow-since` or `--shallow-exclude`, and a full clone
that is followed in the same RUN by a checkout of a fixed commit (`git checkout <sha>`,
`git reset --hard <sha>`, `git switch --detach <sha>`; a build ARG whose default is a commit hash
counts). A checkout of a branch or an ARG defaulting to `main` does not.

Bad:

```dockerfile
RUN git clone https://github.com/huggingface/transformers && pip install --no-cache-dir ./transformers
```

Good:

```dockerfile
ARG TRANSFORMERS_REF=v4.57.1
RUN git clone --depth 1 --branch ${TRANSFORMERS_REF} https://github.com/huggingface/transformers \\
    && pip install --no-cache-dir ./transformers && rm -rf transformers
```
"""

_THIS = sys.modules[__name__]
SHA = re.compile(r"^[0-9a-f]{7,40}$")
_SHALLOW = ("--depth", "--shallow-since", "--shallow-exclude")


def check(model: DockerfileModel) -> Iterator[Finding]:
    for site in all_sites(model):
        argv = [site.expand(a) for a in site.cmd.argv]
        clone = git_clone_target(argv)
        if clone is None:
            continue
        if any(a.startswith(_SHALLOW) for a in argv[2:]):
            continue
        later = [s for s in sites(model, site.inst) if s.position > site.position]
        fixed = False
        for other in later:
            words = [other.expand(a) for a in other.cmd.argv]
            if len(words) >= 3 and words[:2] == ["git", "-C"]:
                words = ["git", *words[3:]]
            if len(words) >= 3 and words[0] == "git" and words[1] in ("checkout", "reset", "switch"):
                refs = [w for w in words[2:] if not w.startswith("-")]
                fixed = fixed or bool(refs and SHA.match(refs[0]))
        if fixed:
            continue
        line, col = model.locate(site.inst, "git clone")
        yield finding(_THIS, model, line, col, f"git clone {clone[0]} without --depth or a fixed-commit checkout")
