"""DY111: a package-manager cache left in a layer."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from dockyard.lint.analysis import InstallSite, cache_mount_targets, install_sites, sites
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.packages import covers
from dockyard.lint.rules.base import finding

CODE = "DY111"
NAME = "package-cache-in-layer"
SEVERITY = "warning"
MESSAGE = "a package-manager cache is left in the layer"
FIX = (
    "Use a cache mount (`RUN --mount=type=cache,target=/root/.cache/pip pip install ...`), or disable the "
    "cache (`pip install --no-cache-dir`, `uv ... --no-cache`, `conda clean -afy` / "
    "`rm -rf /var/lib/apt/lists/*` in the same RUN)."
)
DOCS = """\
pip, uv and conda keep every downloaded wheel or package in a cache, and `apt-get update` leaves the
package lists behind. In an ML image that cache is a second copy of torch and the nvidia-* wheels:
often 2-5 GB, shipped to every node and never used again.

Not flagged when the cache cannot land in the layer:

- a cache mount covers the cache directory: `--mount=type=cache,target=/root/.cache/pip` (or
  `/root/.cache`) for pip, `/root/.cache/uv` for uv, `/opt/conda/pkgs` for conda, `/var/lib/apt`
  (or `/var/lib/apt/lists`) for apt; a mount at `$PIP_CACHE_DIR` / `$UV_CACHE_DIR` also counts;
- pip: `--no-cache-dir`, `PIP_NO_CACHE_DIR` set, or `pip cache purge` / `rm -rf` of the cache in the
  same RUN;
- uv: `--no-cache`, `UV_NO_CACHE` set, or `uv cache clean` in the same RUN;
- conda/mamba/micromamba: `clean -a`/`--all` in the same RUN;
- apt: `rm -rf /var/lib/apt/lists/*` in the same RUN as `apt-get update`.

Bad:

```dockerfile
RUN pip install transformers==4.57.1
RUN apt-get update && apt-get install -y --no-install-recommends git
```

Good:

```dockerfile
RUN --mount=type=cache,target=/root/.cache/pip pip install transformers==4.57.1
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
```
"""

_THIS = sys.modules[__name__]
_CACHE_DIRS = {
    "pip": "/root/.cache/pip",
    "uv": "/root/.cache/uv",
    "conda": "/opt/conda/pkgs",
    "apt": "/var/lib/apt/lists",
}
_CACHE_ENV = {"pip": "PIP_CACHE_DIR", "uv": "UV_CACHE_DIR", "conda": "CONDA_PKGS_DIRS"}


def _removed_in_run(model: DockerfileModel, where: InstallSite, path: str) -> bool:
    for site in sites(model, where.inst):
        argv = [site.expand(a) for a in site.cmd.argv]
        if argv and argv[0] == "rm":
            for arg in argv[1:]:
                target = arg.rstrip("*").rstrip("/") or "/"
                if not arg.startswith("-") and covers(target.replace("~", "/root").replace("$HOME", "/root"), path):
                    return True
    return False


def _later_command(model: DockerfileModel, where: InstallSite, *prefixes: tuple[str, ...]) -> bool:
    for site in sites(model, where.inst):
        if site.position <= where.site.position:
            continue
        argv = [site.expand(a) for a in site.cmd.argv]
        for prefix in prefixes:
            if tuple(argv[: len(prefix)]) == prefix and (prefix[-1] != "clean" or _conda_clean_all(argv)):
                return True
    return False


def _conda_clean_all(argv: list[str]) -> bool:
    if argv[0] not in ("conda", "mamba", "micromamba"):
        return True
    return any(a in ("-a", "--all") or (a.startswith("-") and not a.startswith("--") and "a" in a) for a in argv[2:])


def _cache_left(model: DockerfileModel, where: InstallSite) -> str | None:
    """The cache directory left behind, or None."""
    install, site = where.install, where.site
    tool = install.tool
    if tool == "apt":
        if install.subcommand != "update":
            return None
    elif install.subcommand not in ("install", "sync", "add", "create", "update"):
        return None
    cache = _CACHE_DIRS[tool]
    if tool in _CACHE_ENV and site.getenv(_CACHE_ENV[tool]):
        cache = (site.getenv(_CACHE_ENV[tool]) or cache).split(":")[0]
    if tool == "pip":
        for value in install.option("--cache-dir"):
            cache = site.expand(value)
    targets = cache_mount_targets(site)
    if any(covers(t, cache) for t in targets if t):
        return None
    if tool == "pip":
        if install.has("--no-cache-dir", "--no-cache") or site.getenv("PIP_NO_CACHE_DIR"):
            return None
        if _later_command(model, where, ("pip", "cache", "purge"), ("pip3", "cache", "purge")) or _removed_in_run(
            model, where, cache
        ):
            return None
    elif tool == "uv":
        if install.has("--no-cache", "-n") or site.getenv("UV_NO_CACHE"):
            return None
        if _later_command(model, where, ("uv", "cache", "clean"), ("uv", "cache", "prune")) or _removed_in_run(
            model, where, cache
        ):
            return None
    elif tool == "conda":
        if _later_command(model, where, ("conda", "clean"), ("mamba", "clean"), ("micromamba", "clean")):
            return None
        if _removed_in_run(model, where, cache):
            return None
    elif tool == "apt" and _removed_in_run(model, where, cache):
        return None
    return cache


def check(model: DockerfileModel) -> Iterator[Finding]:
    reported: set[tuple[int, str]] = set()
    for where in install_sites(model):
        cache = _cache_left(model, where)
        key = (where.inst.index, where.install.tool)
        if cache is None or key in reported:
            continue
        reported.add(key)
        tool = where.install.tool
        what = "apt lists" if tool == "apt" else f"the {tool} cache"
        line, col = model.locate(where.inst, where.site.cmd.words[0].raw if where.site.cmd.words else "")
        yield finding(
            _THIS,
            model,
            line,
            col,
            f"{what} ({cache}) is left in the layer: no cache mount and no "
            f"{'cleanup' if tool in ('apt', 'conda') else 'no-cache option'}",
        )
