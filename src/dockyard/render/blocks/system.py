"""The `base` stage shared by builder and runtime: system packages, the interpreter, the user."""

from __future__ import annotations

from dockyard.render.blocks.common import SCRIPTS, RenderContext, apt_install, apt_mounts, script, with_apt_cleanup
from dockyard.render.instructions import Arg, Env, Instruction, Run

KEEP_APT_CACHE = (
    "rm -f /etc/apt/apt.conf.d/docker-clean",
    "echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache",
)


# Slim images: dpkg leaves out documentation, manual pages and translations (copyright files stay).
NO_DOCS = ("printf 'path-exclude=/usr/share/doc/*\\npath-include=/usr/share/doc/*/copyright\\n"
           "path-exclude=/usr/share/man/*\\npath-exclude=/usr/share/info/*\\npath-exclude=/usr/share/locale/*\\n' "
           "> /etc/dpkg/dpkg.cfg.d/dockyard-nodoc")


# The environment of every stage built on the base (a final stage from scratch sets it again).
BASE_ENV = (("LANG", "C.UTF-8"), ("LC_ALL", "C.UTF-8"), ("PYTHONUNBUFFERED", "1"))

# In every final image, whatever the plan: CA certificates for TLS, and an init for signal handling.
BASE_PACKAGES = ("ca-certificates", "tini")


def trim_config(patterns: tuple[str, ...]) -> str:
    """dpkg leaves these files out (knowledge/modalities.toml [[trim]]); the package stays installed."""
    lines = "".join(f"path-exclude={p}\\n" for p in patterns)
    return f"printf '{lines}' > /etc/dpkg/dpkg.cfg.d/dockyard-trim"


def base_stage(ctx: RenderContext) -> list[Instruction]:
    plan = ctx.plan
    items: list[Instruction] = [
        Arg("DEBIAN_FRONTEND", "noninteractive"),
        Env(BASE_ENV),
    ]
    packages = [*BASE_PACKAGES, *plan.system_packages]
    keep = KEEP_APT_CACHE if ctx.options.cache_mounts else ()
    nodoc = (NO_DOCS,) if plan.slim else ()
    trim = plan.system_trim
    trimming = (trim_config(trim),) if trim else ()
    check = (f"sh {SCRIPTS}/trim-check.sh {' '.join(repr(p) for p in trim)}",) if trim else ()
    comment = ("System packages of the final image, an init for signal handling, and the interpreter when the "
               "distribution has it")
    if trim:
        comment += "; dpkg leaves out GPU drivers nothing links (modalities.toml [[trim]]; trim-check.sh proves it)"
    items.append(Run(
        with_apt_cleanup(ctx, (*keep, *nodoc, *trimming, *apt_install(ctx, packages), *check,
                               f"sh {SCRIPTS}/python.sh base {plan.python}")),
        (*apt_mounts(ctx), script("python.sh"), *((script("trim-check.sh"),) if trim else ())),
        comment=comment,
    ))
    if plan.user != "root":
        comment = f"Runtime user {plan.user} (uid {plan.uid}) with a writable home and Hugging Face cache"
        items.append(Run((f"sh {SCRIPTS}/user.sh {plan.user} {plan.uid}",), (script("user.sh"),), comment=comment))
    return items
