"""The `base` stage shared by builder and runtime: system packages, the interpreter, the user."""

from __future__ import annotations

from dockyard.render.blocks.common import (
    SCRIPTS,
    RenderContext,
    apt_install,
    apt_mounts,
    fetch,
    script,
    with_apt_cleanup,
)
from dockyard.render.instructions import Arg, Env, Instruction, Run, SecretMount
from dockyard.render.quoting import shell_word

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

# A step that fetches a third-party archive's key or lists over HTTPS: the build's CA and the script that
# hands it to curl and apt.
CA_MOUNTS = (SecretMount("ca"), script("fetch.sh"))

# In every final image, whatever the plan: CA certificates for TLS, and an init for signal handling.
BASE_PACKAGES = ("ca-certificates", "tini")


def trim_config(patterns: tuple[str, ...]) -> str:
    """dpkg leaves these files out (knowledge/modalities.toml [[trim]]); the package stays installed."""
    lines = "".join(f"path-exclude={p}\\n" for p in patterns)
    return f"printf '{lines}' > /etc/dpkg/dpkg.cfg.d/dockyard-trim"


def archive_setup(ctx: RenderContext) -> list[Instruction]:
    """The spec's apt-archives: each key fetched over HTTPS (through fetch.sh, which hands apt and curl the
    build's CA) into /etc/apt/keyrings and named by its source's signed-by. The next apt-get update reads them."""
    archives = ctx.plan.archives
    if not archives:
        return []
    commands = [*apt_install(ctx, ["ca-certificates", "curl"]), "mkdir -p /etc/apt/keyrings"]
    for name, key_url, keyring, line in archives:
        commands += [fetch(f"curl -fsSL --retry 3 -o {keyring} {shell_word(key_url)}"),
                     f"echo {shell_word(line)} > /etc/apt/sources.list.d/{name}.list"]
    return [Run(with_apt_cleanup(ctx, tuple(commands)), (*apt_mounts(ctx), *CA_MOUNTS),
                comment=f"apt archives asked for ({', '.join(a[0] for a in archives)}): signing key and source "
                        "(knowledge/targets.toml [archive])")]


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
    if plan.system_setup:
        comment += "; packages configured for every user (modalities.toml [[configure]])"
    items += archive_setup(ctx)
    install = apt_install(ctx, packages)
    if plan.archives:  # an HTTPS archive behind a TLS proxy: apt gets the build's CA from fetch.sh
        install = tuple(fetch(command) for command in install)
    python = f"sh {SCRIPTS}/python.sh base {plan.python}" + (" --dev" if plan.python_headers else "")
    items.append(Run(
        with_apt_cleanup(ctx, (*keep, *nodoc, *trimming, *install, *check, *plan.system_setup, python)),
        (*apt_mounts(ctx), *(CA_MOUNTS if plan.archives else ()), script("python.sh"),
         *((script("trim-check.sh"),) if trim else ())),
        comment=comment,
    ))
    if plan.user != "root":
        comment = f"Runtime user {plan.user} (uid {plan.uid}) with a writable home and Hugging Face cache"
        any_uid = " any-uid" if plan.profile == "serve" else ""
        if any_uid:
            comment += ", also writable by group 0 (any UID with GID 0 runs the image)"
        items.append(Run((f"sh {SCRIPTS}/user.sh {plan.user} {plan.uid}{any_uid}",), (script("user.sh"),),
                         comment=comment))
    return items
