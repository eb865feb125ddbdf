"""render: Plan -> the files of a build context (Dockerfile, scripts, pinned requirements, probe, plan).

The Dockerfile is multi-stage: `base` (system packages, interpreter, user), `builder` (venv, torch from
its index, pinned packages, compiled add-ons, transformers, slimming), `runtime` (the base stage plus
the venv). Output is deterministic: the same plan gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from dockyard import __version__
from dockyard.errors import InputError
from dockyard.render.blocks.common import RenderContext, RenderOptions
from dockyard.render.blocks.finish import finish
from dockyard.render.blocks.gateway import gateway_files, name_link
from dockyard.render.blocks.packages import addon_builds, packages_install
from dockyard.render.blocks.python import builder_python
from dockyard.render.blocks.root import root_copy, root_stage, trimmed
from dockyard.render.blocks.runtime import runtime_stage, versions
from dockyard.render.blocks.serve import MODEL_CONTEXT, model_stage, start_fetch_files
from dockyard.render.blocks.system import BASE_ENV, base_stage
from dockyard.render.blocks.torch import torch_args, torch_install
from dockyard.render.blocks.transformers import transformers_install, with_package_data
from dockyard.render.dockerfile import emit
from dockyard.render.instructions import Arg, Env, Stage, StageBuilder
from dockyard.render.lockfile import Lock, parse
from dockyard.render.owned import OwnedFolder
from dockyard.resolve.plan import Plan
from dockyard.spec.grammar import brief, confine
from dockyard.spec.modelfolder import ModelFolder, walk_model

PACKAGED_SCRIPTS = ("fetch.sh", "python.sh", "user.sh", "slim.py", "build-jumanpp.sh", "trim-check.sh", "root-trim.sh")
DOCKERIGNORE = "**/__pycache__\n**/*.pyc\n**/.git\n**/.dockyard-files\n"


@dataclass(frozen=True)
class Rendered:
    dockerfile: str
    files: dict[str, str]  # context-relative path -> text (Dockerfile included)
    executables: frozenset[str]
    build_args: dict[str, str]  # the ARG defaults a build may override
    app_files: tuple[tuple[str, str], ...]  # (source path on disk, path under app/)
    model_dir: str = ""  # a serve image's path: model folder on disk, copied to model/ in the context
    model_root: str = ""  # the folder it is confined to: the folder of the spec that names it
    model_where: str = ""  # `FILE: [serve].model = "path:..."`, for messages

    def paths(self, extra: Mapping[str, str] | None = None) -> list[str]:
        """What `write` puts in a folder: the files, and the folders it fills (`/` at the end)."""
        return [*self.files, *(extra or {}), "wheels/", *(["app/"] if self.app_files else []),
                *([f"{MODEL_CONTEXT}/"] if self.model_dir else [])]

    def write(self, directory: Path, option: str = "-o", shared: bool = False,
              extra: Mapping[str, str] | None = None) -> list[Path]:
        """Write every file (and `extra` ones) under `directory`, created if needed; returns the paths
        written. Files that dockyard did not write are never replaced: the folder's manifest lists its own."""
        out = OwnedFolder(directory, option)
        out.check(self.paths(extra), shared)
        out.remove_stale()
        written = out.write({**self.files, **(extra or {})}, self.executables)
        out.clear_tree("wheels/", empty=False)  # wheels put there by hand stay
        if self.app_files:
            out.clear_tree("app/")
            for source, target in self.app_files:
                out.copy_in(Path(source), f"app/{target}")
        if self.model_dir:
            copy_model(walk_model(Path(self.model_root), self.model_dir, self.model_where, directory),
                       out.clear_tree(f"{MODEL_CONTEXT}/"))
        out.finish()
        return written


def copy_model(folder: ModelFolder, destination: Path) -> None:
    """The files `walk_model` listed (walked again now: the folder may have changed since the spec was
    read), with modes every user can read (the image runs it as a non-root user), in a fixed order.
    Each file is opened without following a link and without blocking, and must still be a regular file."""
    import shutil

    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    destination.chmod(0o755)
    for relative in folder.folders:
        target = destination / relative
        target.mkdir(exist_ok=True)
        target.chmod(0o755)
    for item in folder.files:
        try:
            copy_regular(item.source, destination / item.relative)
        except OSError as exc:
            raise InputError(f"{folder.path / item.relative}: cannot be copied into the model layer: "
                             f"{exc.strerror or exc}", "keep regular files in the model folder, and leave it "
                             "unchanged while dockyard builds") from None


def copy_regular(source: Path, target: Path) -> None:
    """Copy one regular file, read with O_NOFOLLOW | O_NONBLOCK (a link or FIFO put there since is refused)."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{source} is no longer a regular file")
        with target.open("wb") as out:
            while chunk := handle.read(8 * 1024 * 1024):
                out.write(chunk)
    target.chmod(0o644)


def packaged(name: str) -> str:
    folder = "verify" if name == "probe.py" else "render/files"
    return (resources.files("dockyard") / folder / name).read_text(encoding="utf-8")


def header(plan: Plan, lock: Lock | None = None) -> str:
    source = plan.spec.source
    lines = [
        f"{plan.name}: {plan.spec.description or 'transformers on ' + plan.target}",
        f"Generated by dockyard {__version__} from {source} ({plan.digest}). Edit the spec, not this file.",
        f"torch {plan.torch.version or plan.torch.channel} ({plan.torch.variant}) | transformers "
        f"{plan.transformers.describe()} | Python {plan.python} | target {plan.target} | profile {plan.profile}",
        *([f"Locked:     {len(lock.packages)} packages, lock {lock.digest()} ({lock.resolver or 'resolver unknown'})"]
          if lock is not None else []),
        "",
        f"Build:      dockyard build {plan.name if source.startswith('preset') else source}",
        "Or BuildKit: DOCKER_BUILDKIT=1 docker build --secret id=ca,src=CA_BUNDLE.pem -t IMAGE .",
        "             (the CA secret is optional: a TLS-intercepting proxy's bundle, never stored in a layer)",
    ]
    return "\n".join(lines)


def app_files(plan: Plan) -> tuple[tuple[str, str], ...]:
    """(source on disk, name under app/) of each entry of `files`; each must resolve, links followed,
    inside the spec's folder (checked again here: the files may have changed since the spec was read)."""
    root = Path(plan.spec.root)
    pairs = []
    for entry in plan.files:
        path, problem = confine(root, entry)
        if problem:
            raise InputError(f"{plan.spec.source}: [image].files = {brief(entry)}: {problem}",
                             "keep the files in the spec's folder (links too must point inside it)")
        if not _exists(path):
            raise InputError(f"{plan.spec.source}: [image].files: {entry} does not exist (relative to {root})",
                             "paths in files are relative to the spec file's folder")
        pairs.append((str(path), Path(entry).name))
    return tuple(pairs)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name the system refuses (too long, ...) names nothing that exists
        return False


def plan_lock(plan: Plan, given: Lock | None) -> Lock | None:
    """The lock to install from (given, else the spec's `lock` key), checked against the plan."""
    where = "the lock given"
    lock = given
    if lock is None and plan.spec.lock:
        path = Path(plan.spec.root) / plan.spec.lock
        where = f"{plan.spec.source}: [image].lock = {plan.spec.lock!r}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{where}: cannot read {path}: {exc.strerror or exc}",
                             f"make it with `dockyard lock {plan.spec.source} -o {path}`") from None
        lock = parse(text, str(path))
    if lock is None:
        return None
    if lock.spec_digest != plan.digest or lock.python != plan.python:
        raise InputError(f"{where}: the lock was made for another spec ({lock.spec or 'unknown'}, "
                         f"{lock.spec_digest[:19]}…, Python {lock.python}); this one is {plan.digest[:19]}…, "
                         f"Python {plan.python}", "lock again after changing the spec: dockyard lock SPEC -o LOCK")
    return lock


def expectations(plan: Plan, lock: Lock | None) -> dict[str, object]:
    expect = plan.expectations()
    if lock is not None:
        expect["versions"] = dict(sorted(versions(plan, lock).items()))
        expect["lock_digest"] = lock.digest()
    return expect


def render(plan: Plan, options: RenderOptions | None = None) -> Rendered:
    options = options or RenderOptions()
    lock = plan_lock(plan, options.lock)
    ctx = RenderContext(plan, replace(options, lock=lock))
    separate_builder = plan.builder_base != plan.runtime_base
    global_args = [Arg("BASE_IMAGE", plan.runtime_base)]
    if separate_builder:
        global_args.append(Arg("BUILDER_IMAGE", plan.builder_base))

    base = StageBuilder("base", "${BASE_IMAGE}", "Shared by the builder and the final image")
    base.add(*base_stage(ctx))

    builder_from = "${BUILDER_IMAGE}" if separate_builder else "base"
    builder = StageBuilder("builder", builder_from,
                           "Everything that downloads or compiles happens here; only /opt/venv leaves this stage")
    builder.add(*builder_python(ctx, separate_builder))
    builder.add(*torch_args(ctx), *torch_install(ctx))
    builder.add(*packages_install(ctx))
    builder.add(*addon_builds(ctx))
    builder.add(*with_package_data(ctx, transformers_install(ctx)))
    builder.add(*finish(ctx))
    builder.add(*name_link(plan))

    root: tuple[Stage, ...] = ()
    if trimmed(ctx):
        trimming = StageBuilder("root", "base", "The final image's root: the base without what serving never runs")
        root = (trimming.add(*root_stage(ctx)).build(),)
        runtime = StageBuilder("runtime", "scratch", "The final image, from scratch on that root")
        runtime.add(*root_copy(), Env(BASE_ENV))
    else:
        runtime = StageBuilder("runtime", "base", "The final image")
    runtime.add(*runtime_stage(plan, lock))

    model = model_stage(ctx)
    start_fetch_files(ctx)
    stages: tuple[Stage, ...] = (base.build(), builder.build(), *((model,) if model else ()), *root, runtime.build())
    dockerfile = emit(header(plan, lock), tuple(global_args), stages)

    for name in PACKAGED_SCRIPTS:
        if ((name != "build-jumanpp.sh" or any(a.script == name for a in plan.addons))
                and (name != "trim-check.sh" or plan.system_trim) and (name != "root-trim.sh" or root)):
            ctx.add_file(f"dockyard/{name}", packaged(name), executable=name.endswith(".sh"))
    gateway_files(ctx)
    ctx.add_file("dockyard/probe.py", packaged("probe.py"))
    ctx.add_file("dockyard/plan.json", json.dumps(expectations(plan, lock), indent=2, sort_keys=True) + "\n")
    ctx.add_file(".dockerignore", DOCKERIGNORE)
    ctx.add_file("Dockerfile", dockerfile)
    build_args = {a.name: a.default or "" for a in global_args}
    for stage in stages:
        for item in stage.instructions:
            if isinstance(item, Arg) and item.name != "DEBIAN_FRONTEND":
                build_args[item.name] = item.default or ""
    baked = plan.serve.model if plan.serve else None
    model_dir, model_root = (str(baked.path), str(baked.root)) if baked and baked.path and baked.root else ("", "")
    model_where = f'{plan.spec.source}: [serve].model = "{baked.spelled()}"' if baked else ""
    return Rendered(dockerfile, dict(sorted(ctx.files.items())), frozenset(ctx.executables), build_args,
                    app_files(plan), model_dir, model_root, model_where)
