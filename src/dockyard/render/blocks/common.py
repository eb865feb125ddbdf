"""What every block shares: render options, the files blocks add to the build context, mount sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.render.instructions import BindMount, CacheMount, Mount, SecretMount
from dockyard.render.lockfile import Lock, Locked, requirements_text
from dockyard.resolve.plan import Plan

SCRIPTS = "/run/dockyard"  # where build scripts are bind-mounted during a RUN (never in a layer)
CONSTRAINTS = "/opt/dockyard/constraints.txt"  # builder only: pins torch against later installs
PIP_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True)
class RenderOptions:
    """What the engine can do. Without cache mounts, pip runs with --no-cache-dir and apt lists are
    removed in the same layer; secret and bind mounts are required (build refuses engines without).
    `cache_sharing` is how concurrent builds share a cache: `locked` (BuildKit) serialises them; Buildah
    gets `shared`, because it deadlocks on a second `locked` mount of one cache in a build."""

    cache_mounts: bool = True
    cache_sharing: str = "locked"
    lock: Lock | None = None  # install exactly these packages (render also reads the spec's `lock` key)


@dataclass
class RenderContext:
    plan: Plan
    options: RenderOptions
    files: dict[str, str] = field(default_factory=dict)  # context-relative path -> text
    executables: set[str] = field(default_factory=set)

    def add_file(self, path: str, text: str, executable: bool = False) -> str:
        self.files[path] = text
        if executable:
            self.executables.add(path)
        return path


def script(name: str) -> BindMount:
    """Bind one packaged script from the context's dockyard/ folder into the RUN."""
    return BindMount(f"dockyard/{name}", f"{SCRIPTS}/{name}")


def apt_mounts(ctx: RenderContext) -> tuple[Mount, ...]:
    if not ctx.options.cache_mounts:
        return ()
    sharing = ctx.options.cache_sharing
    return (CacheMount("/var/cache/apt", id="apt-cache", sharing=sharing),
            CacheMount("/var/lib/apt", id="apt-lib", sharing=sharing))


def fetch_mounts(ctx: RenderContext, *extra: Mount) -> tuple[Mount, ...]:
    """Mounts of a step that fetches Python packages: pip cache, CA and netrc secrets, the fetch script."""
    cache: tuple[Mount, ...] = ((CacheMount("/root/.cache/pip", id="pip-cache", sharing=ctx.options.cache_sharing),)
                                if ctx.options.cache_mounts else ())
    return (*cache, SecretMount("ca"), SecretMount("netrc", target="/root/.netrc"), script("fetch.sh"), *extra)


def lock_part(ctx: RenderContext, name: str, packages: tuple[Locked, ...], title: str) -> BindMount:
    """Write one part of the lock into the context; the mount that binds it where pip reads it."""
    ctx.add_file(f"dockyard/{name}", requirements_text(packages, title))
    return script(name)


def locked_install(ctx: RenderContext, name: str, extra: str = "") -> str:
    """pip install of one lock part: every package pinned and hash-checked, nothing resolved."""
    return pip_install(ctx, f"--require-hashes --no-deps {extra}-r {SCRIPTS}/{name}")


def fetch(command: str) -> str:
    return f"sh {SCRIPTS}/fetch.sh {command}"


def pip_install(ctx: RenderContext, args: str) -> str:
    cache = "" if ctx.options.cache_mounts else " --no-cache-dir"
    return fetch(f"pip install --no-compile{cache} {args}")


def apt_install(ctx: RenderContext, packages: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """apt-get update and install; with_apt_cleanup() ends the step."""
    names = " ".join(sorted(set(packages)))
    return ("apt-get update", f"apt-get install -y --no-install-recommends {names}")


def with_apt_cleanup(ctx: RenderContext, commands: tuple[str, ...]) -> tuple[str, ...]:
    """Without cache mounts, apt lists are removed as the step's last command, after everything in the
    step that may run apt (python.sh does, on bases without the interpreter), so none lands in a layer."""
    return commands if ctx.options.cache_mounts else (*commands, "rm -rf /var/lib/apt/lists/*")
