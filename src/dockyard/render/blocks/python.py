"""The builder's interpreter and virtualenv."""

from __future__ import annotations

from dockyard.render.blocks.common import (
    SCRIPTS,
    RenderContext,
    apt_install,
    apt_mounts,
    fetch,
    fetch_mounts,
    script,
    with_apt_cleanup,
)
from dockyard.render.instructions import Arg, Env, Instruction, Run

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def builder_python(ctx: RenderContext, separate_image: bool) -> list[Instruction]:
    """Build tools when something compiles, then the interpreter (+ venv, + headers) and /opt/venv."""
    plan = ctx.plan
    items: list[Instruction] = [Arg("DEBIAN_FRONTEND", "noninteractive")]
    packages = [*plan.build_packages, *(("ca-certificates",) if separate_image else ())]
    if packages:
        comment = "Compilers and headers: builder stage only"
        items.append(Run(with_apt_cleanup(ctx, apt_install(ctx, packages)), apt_mounts(ctx), comment=comment))
    dev = " --dev" if plan.compile else ""
    version, url, sha256 = plan.uv
    items.append(Run(
        with_apt_cleanup(ctx, (fetch(f"env UV_WHEEL_URL={url} UV_WHEEL_SHA256={sha256} "
                                     f"sh {SCRIPTS}/python.sh builder {plan.python} {plan.venv}{dev}"),)),
        (*apt_mounts(ctx), *fetch_mounts(ctx, script("python.sh"))),
        comment=f"Python {plan.python} and the virtualenv; uv {version} installs a standalone CPython only when "
                "neither the image nor its distribution has this version",
    ))
    # plan.installer_env: how the builder's pip builds sdists (knowledge/python.toml [installer.env])
    items.append(Env((("VIRTUAL_ENV", plan.venv), ("PATH", f"{plan.venv}/bin:/opt/python/bin:{SYSTEM_PATH}"),
                      *plan.installer_env)))
    return items
