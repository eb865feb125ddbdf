"""transformers itself: a release from PyPI, a source archive at a git ref, or (dev profile) an editable
checkout of that source at /opt/transformers. Never a full git clone."""

from __future__ import annotations

from dataclasses import replace

from dockyard.render.blocks.common import (
    CONSTRAINTS,
    RenderContext,
    fetch,
    fetch_mounts,
    lock_part,
    locked_install,
    pip_install,
)
from dockyard.render.instructions import Arg, Instruction, Run

SOURCE = "/opt/transformers"


def transformers_install(ctx: RenderContext) -> list[Instruction]:
    plan = ctx.plan
    tf = plan.transformers
    extras = f"[{','.join(tf.extras)}]" if tf.extras else ""
    lock = ctx.options.lock
    if lock is not None and not tf.editable:
        locked = lock.subset(("transformers",))
        mount = lock_part(ctx, "lock-transformers.txt", locked, "transformers from the lock")
        return [Run((locked_install(ctx, "lock-transformers.txt"),), fetch_mounts(ctx, mount),
                    comment=f"{', '.join(p.requirement() for p in locked)} from the lock, hash-checked")]
    deps = " --no-deps" if lock is not None else ""  # the lock installed its dependencies
    if tf.editable:
        ref_arg = Arg("TRANSFORMERS_REF", tf.ref or f"v{tf.version}")
        url = "https://github.com/huggingface/transformers/archive/${TRANSFORMERS_REF}.tar.gz"
        return [ref_arg, Run(
            (f"mkdir -p {SOURCE}",
             fetch(f'curl -fsSL --retry 3 -o /tmp/transformers.tar.gz "{url}"'),
             f"tar -xzf /tmp/transformers.tar.gz -C {SOURCE} --strip-components=1",
             "rm /tmp/transformers.tar.gz",
             pip_install(ctx, f'-c {CONSTRAINTS}{deps} -e "{SOURCE}{extras}"')),
            fetch_mounts(ctx),
            comment="transformers source (one archive, no git history) installed editable for development",
        )]
    if tf.ref:
        url = "https://github.com/huggingface/transformers/archive/${TRANSFORMERS_REF}.tar.gz"
        return [Arg("TRANSFORMERS_REF", tf.ref), Run(
            (pip_install(ctx, f'-c {CONSTRAINTS} "transformers{extras} @ {url}"'),),
            fetch_mounts(ctx),
            comment="transformers from a source archive at a git ref (no clone)",
        )]
    return [Arg("TRANSFORMERS_VERSION", tf.version or ""), Run(
        (pip_install(ctx, f'-c {CONSTRAINTS} "transformers{extras}==${{TRANSFORMERS_VERSION}}"'),),
        fetch_mounts(ctx),
        comment=f"transformers {tf.version}",
    )]


def with_package_data(ctx: RenderContext, items: list[Instruction]) -> list[Instruction]:
    """Data a package ships without, fetched into it once everything is installed (python.toml
    [[package_data]]), in the step that installs transformers: it lands in the venv, which the final image
    copies."""
    steps = ctx.plan.package_data
    last = items[-1] if items else None
    if not steps or not isinstance(last, Run):
        return items
    names = ", ".join(name for name, _ in steps)
    # a decision, not an accident (DY115 asks for one): the package is useless without its data
    return [*items[:-1], replace(last, commands=(*last.commands, *(fetch(command) for _, command in steps)),
                                 comment=f"{last.comment}; then the data of {names}, fetched at build time "
                                         "(knowledge/python.toml [[package_data]])\ndockyard: ignore=DY115")]
