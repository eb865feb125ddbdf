"""The final stage: only what runs. Copies from the builder, environment, labels, non-root user, an init
(tini) in an exec-form entrypoint, the probe and the plan for `dockyard verify`, then the app files."""

from __future__ import annotations

import json

from dockyard import __version__
from dockyard.render.blocks.gateway import gateway_layer
from dockyard.render.blocks.python import SYSTEM_PATH
from dockyard.render.blocks.serve import model_layer, serve_endpoint
from dockyard.render.blocks.transformers import SOURCE
from dockyard.render.instructions import Cmd, Comment, Copy, Entrypoint, Env, Instruction, Label, User, Workdir
from dockyard.render.lockfile import Lock
from dockyard.resolve.plan import Plan

TINI = "/usr/bin/tini"


def versions(plan: Plan, lock: Lock | None) -> dict[str, str]:
    """Every version the image must carry: the plan's pins, or with a lock every locked package."""
    return {**plan.pinned_versions(), **lock.versions()} if lock is not None else plan.pinned_versions()


def labels(plan: Plan, lock: Lock | None = None) -> tuple[tuple[str, str], ...]:
    description = plan.spec.description or f"transformers on {plan.target}"
    pairs = {
        "org.opencontainers.image.title": plan.name,
        "org.opencontainers.image.description": description,
        "org.opencontainers.image.base.name": plan.runtime_base,
        "dev.dockyard.version": __version__,
        "dev.dockyard.spec-digest": plan.digest,
        "dev.dockyard.target": plan.target,
        "dev.dockyard.profile": plan.profile,
        "dev.dockyard.python": plan.python,
        "dev.dockyard.torch": plan.torch.version or plan.torch.channel,
        "dev.dockyard.torch-variant": plan.torch.variant,
        "dev.dockyard.transformers": plan.transformers.describe(),
        "dev.dockyard.versions": json.dumps(versions(plan, lock), sort_keys=True, separators=(",", ":")),
    }
    if lock is not None:
        pairs["dev.dockyard.lock-digest"] = lock.digest()
    if plan.addons:
        pairs["dev.dockyard.addons"] = ",".join(f"{a.name}=={a.version}" if a.version else a.name for a in plan.addons)
    return tuple(sorted(pairs.items()))


def runtime_env(plan: Plan) -> tuple[tuple[str, str], ...]:
    path = ":".join((f"{plan.venv}/bin", *plan.extra_paths, SYSTEM_PATH))
    env = {
        "VIRTUAL_ENV": plan.venv,
        "PATH": path,
        "HF_HOME": f"{plan.home}/.cache/huggingface",
    }
    if plan.profile in ("runtime", "serve"):
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if plan.profile == "serve":  # under any UID (no passwd entry) the engine would set HOME=/
        env["HOME"] = plan.home
    env.update(dict(plan.env))
    return tuple(sorted(env.items()))


def runtime_stage(plan: Plan, lock: Lock | None = None) -> list[Instruction]:
    owner = f"{plan.uid}:{plan.uid}" if plan.profile in ("ci", "dev") and plan.user != "root" else ""
    items: list[Instruction] = [
        Copy(("/opt/python",), "/opt/python", from_stage="builder"),
        Copy((plan.venv,), plan.venv, from_stage="builder", chown=owner),
    ]
    for addon in plan.addons:
        items += [Copy((path,), path, from_stage="builder") for path in addon.runtime_paths]
    if plan.transformers.editable:
        items.append(Copy((SOURCE,), SOURCE, from_stage="builder", chown=owner))
    items += [
        Env(runtime_env(plan)),
        Comment("What `dockyard verify` checks, kept in the image so it can verify itself anywhere"),
        Copy(("dockyard/probe.py", "dockyard/plan.json"), "/opt/dockyard/"),
    ]
    items += model_layer(plan)
    items += gateway_layer(plan)
    workdir = plan.home
    if plan.files:
        items.append(Copy(("app/",), "/app/"))
        workdir = "/app"
    user = f"{plan.uid}:{plan.uid}" if plan.user != "root" else "root"
    items += [
        Label(labels(plan, lock)),
        *serve_endpoint(plan),
        User(user),
        Workdir(workdir),
        Entrypoint((TINI, "--", *plan.entrypoint)),
        Cmd(plan.cmd),
    ]
    return items
