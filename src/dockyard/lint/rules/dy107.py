"""DY107: cleanup in a later layer than the files it removes."""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from dockyard.lint.analysis import Site, install_sites_of, run_instructions, sites
from dockyard.lint.builds import git_clone_target
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, Instruction, expand
from dockyard.lint.rules.base import finding

CODE = "DY107"
NAME = "cleanup-in-later-layer"
SEVERITY = "warning"
MESSAGE = "cleanup runs in a later layer than the files it removes, so the image does not shrink"
FIX = (
    "Remove the files in the same RUN that creates them (`... && rm -rf /var/lib/apt/lists/*`), or "
    "build in a separate stage and COPY only the result; use cache mounts for package caches."
)
DOCS = """\
Each RUN is a layer, and a layer can only hide files of the layers below it, never shrink them.
`rm -rf` of a clone, a download, a package cache or the apt lists in a RUN after the one that created
them adds a whiteout and saves nothing; `apt-get remove`/`purge` of packages installed by an earlier
RUN does the same. transformers' CPU images, for instance, ran `apt-get clean && rm -rf
/var/lib/apt/lists/*` only in their last layer and `apt remove g++ cmake` in a layer of its own.

The rule tracks what earlier RUN, COPY and ADD instructions of the same stage (and the stages it is
built FROM) created: clone targets, download outputs, COPY/ADD destinations, apt lists after
`apt-get update`, pip/uv/conda caches after installs, apt packages. It fires when a later RUN removes
one of them without recreating it in the same RUN.

Bad:

```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends git
RUN git clone --depth 1 https://github.com/org/tool /opt/tool && pip install --no-cache-dir /opt/tool
RUN rm -rf /opt/tool /var/lib/apt/lists/*
```

Good:

```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
RUN git clone --depth 1 https://github.com/org/tool /opt/tool && pip install --no-cache-dir /opt/tool \\
    && rm -rf /opt/tool
```
"""

_THIS = sys.modules[__name__]
_APT_LISTS = "/var/lib/apt/lists"
_CACHES = {
    "pip": ("/root/.cache/pip", "/root/.cache", "~/.cache/pip", "~/.cache", "$HOME/.cache", "${HOME}/.cache"),
    "uv": ("/root/.cache/uv", "/root/.cache", "~/.cache/uv", "~/.cache"),
    "conda": ("/opt/conda/pkgs",),
    "apt": (_APT_LISTS, "/var/cache/apt"),
}


@dataclass
class Created:
    path: str
    what: str
    inst: Instruction


def _norm(path: str) -> str:
    path = path.strip().strip("'\"")
    path = re.sub(r"/\*+$", "", path).rstrip("/")
    return path or "/"


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _created_by_run(model: DockerfileModel, inst: Instruction) -> list[Created]:
    out: list[Created] = []
    for site in sites(model, inst):
        argv = [site.expand(a) for a in site.cmd.argv]
        clone = git_clone_target(argv)
        if clone is not None:
            out.append(Created(_abs(site, clone[1]), "a git clone", inst))
        elif argv and argv[0] in ("wget", "curl"):
            for flag in ("-O", "-o", "--output", "--output-document"):
                if flag in argv[:-1]:
                    out.append(Created(_abs(site, argv[argv.index(flag) + 1]), "a download", inst))
    for where in install_sites_of(model, inst):
        tool = where.install.tool
        if tool == "apt" and where.install.subcommand == "update":
            out.append(Created(_APT_LISTS, "apt lists", inst))
        elif tool == "apt" and where.install.subcommand == "install":
            out.extend(Created(f"apt:{w.value}", "an apt package", inst) for w in where.install.requirements)
            out.append(Created("/var/cache/apt", "the apt cache", inst))
        elif tool in ("pip", "uv", "conda"):
            out.extend(Created(p, f"the {tool} cache", inst) for p in _CACHES[tool])
    return out


def _abs(site: Site, path: str) -> str:
    path = _norm(path)
    return path if path.startswith(("/", "~", "$")) else _norm(f"{site.cwd.rstrip('/')}/{path}")


def _created_by_copy(model: DockerfileModel, inst: Instruction) -> list[Created]:
    if len(inst.value) < 2:
        return []
    dest = expand(inst.value[-1], model.env_before(inst))
    return [Created(_norm(dest), f"{inst.cmd} content", inst)] if dest.startswith("/") else []


def _removals(model: DockerfileModel, inst: Instruction) -> Iterator[tuple[str, Site]]:
    for site in sites(model, inst):
        argv = [site.expand(a) for a in site.cmd.argv]
        if argv and argv[0] == "rm":
            for arg in argv[1:]:
                if not arg.startswith("-"):
                    yield _abs(site, arg), site
        elif argv[:2] in (["apt-get", "clean"], ["apt", "clean"]):
            yield "/var/cache/apt", site
        elif argv[:3] in (["pip", "cache", "purge"], ["pip3", "cache", "purge"]):
            yield "/root/.cache/pip", site
        elif argv[:3] == ["uv", "cache", "clean"]:
            yield "/root/.cache/uv", site
        elif len(argv) >= 2 and argv[0] in ("conda", "mamba", "micromamba") and argv[1] == "clean":
            yield "/opt/conda/pkgs", site
        elif len(argv) >= 3 and argv[0] in ("apt-get", "apt") and argv[1] in ("remove", "purge", "autoremove"):
            for pkg in argv[2:]:
                if not pkg.startswith("-"):
                    yield f"apt:{pkg}", site


class _Layers:
    """What earlier layers created, by path, sorted: everything under a folder is one range of keys,
    so a removal looks at what it removes, not at everything created so far."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.items: dict[str, list[tuple[int, Created]]] = {}
        self.count = 0

    def add(self, created: Created) -> None:
        if created.path not in self.items:
            bisect.insort(self.keys, created.path)
        self.items.setdefault(created.path, []).append((self.count, created))
        self.count += 1

    def _under(self, parent: str) -> list[str]:
        inside = parent.rstrip("/") + "/"
        low = bisect.bisect_left(self.keys, inside)
        high = bisect.bisect_left(self.keys, inside[:-1] + "0")  # "0" follows "/"
        return ([parent] if parent in self.items else []) + self.keys[low:high]

    def first_under(self, parent: str) -> Created | None:
        found = [item for key in self._under(parent) for item in self.items[key]]
        return min(found, key=lambda item: item[0])[1] if found else None

    def remove_under(self, parent: str) -> None:
        for key in self._under(parent):
            del self.items[key]
            del self.keys[bisect.bisect_left(self.keys, key)]


def check(model: DockerfileModel) -> Iterator[Finding]:
    runs = set(id(i) for i in run_instructions(model))
    for stage in model.stages:
        created = _Layers()
        for inst in stage.chain_instructions():
            if inst.cmd in ("COPY", "ADD"):
                for item in _created_by_copy(model, inst):
                    created.add(item)
                continue
            if id(inst) not in runs:
                continue
            now = _created_by_run(model, inst)
            removed = list(_removals(model, inst))
            if inst.stage is stage:
                for path, site in removed:
                    if any(_under(c.path, path) for c in now):
                        continue  # created and removed in the same layer: fine
                    origin = created.first_under(path)
                    if origin is not None:
                        line, col = model.locate(inst, site.cmd.words[0].raw if site.cmd.words else "")
                        yield finding(
                            _THIS,
                            model,
                            line,
                            col,
                            f"removes {path.removeprefix('apt:')} ({origin.what} from line "
                            f"{origin.inst.start_line}) "
                            "in a later layer: the bytes stay in the earlier layer",
                        )
                        break
            gone = [path for path, _ in removed]
            for path in gone:
                created.remove_under(path)
            for item in now:
                if not any(_under(item.path, p) for p in gone):
                    created.add(item)
