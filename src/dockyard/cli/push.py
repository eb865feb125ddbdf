"""push: a spec's built image to a registry, its manifest digest recorded for `deploy --registry`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from dockyard.cli.output import escape, print_json, print_note, stderr, stdout
from dockyard.deploy.model import Deployment
from dockyard.deploy.registry import ImageRef, deploy_image, pinned, push, record, remote_tag
from dockyard.engine.detect import BACKENDS, Engine, detect
from dockyard.errors import DockyardError, EngineError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "push", help="push a built image to a registry and record its digest",
        description="Push the image `dockyard build SPEC` made (dockyard/NAME:<spec digest>) to REGISTRY as "
                    "REGISTRY/NAME:<spec digest>, and record the manifest digest the registry answered, so that "
                    "`dockyard deploy SPEC --registry REGISTRY` names the image by digest "
                    "(REGISTRY/NAME@sha256:...). Log in first (docker login REGISTRY). A registry on this machine "
                    "(localhost, 127.0.0.1) needs no TLS: docker trusts it, and podman is told to.")
    p.add_argument("spec", help="a spec file or preset whose image was built")
    p.add_argument("--registry", required=True, help="e.g. ghcr.io/acme or registry.example.com:5000/team")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--json", action="store_true", help="print the pushed reference and digest as JSON")
    p.set_defaults(func=cmd_push)


def state_file() -> Path:
    """Where pushed digests are recorded: $XDG_STATE_HOME/dockyard/pushed.json."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dockyard" / "pushed.json"


def publish(engine: Engine, local: str, name: str, tag: str, registry: str) -> tuple[str, str]:
    """Push `local` as REGISTRY/NAME:TAG, record its digest; (the pinned reference, the digest)."""
    from dockyard.engine.backends import backend_for

    reference = remote_tag(registry, name, tag)
    inspected = backend_for(engine).inspect(local)
    if inspected is None:
        raise EngineError(f"image {local} is not in the local {engine.kind} store",
                          "build it first: dockyard build SPEC (it builds and verifies the image)")
    stderr.print(f"pushing {escape(reference)} with {escape(engine.describe())}")
    digest = push(engine, local, reference)
    record(state_file(), reference, digest, str(inspected.get("Id", "")))
    return pinned(reference, digest), digest


def cmd_push(args: argparse.Namespace) -> int:
    from dockyard.deploy.model import dns_label, image_reference
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load

    plan = resolve(load(args.spec))
    name, tag = dns_label(plan.name), plan.digest.split(":", 1)[1][:12]
    remote_tag(args.registry, name, tag)  # a wrong registry is exit 2, before any engine
    engine = detect(args.backend)
    reference, digest = publish(engine, image_reference(plan), name, tag, args.registry)
    if args.json:
        print_json({"reference": reference, "digest": digest, "record": str(state_file())})
        return 0
    stdout.print(f"[bold green]pushed[/] {escape(reference)}")
    if plan.serve is not None:
        print_note(f"deploy it by digest: dockyard deploy {args.spec} --registry {args.registry} --to kubernetes "
                   "-o DIR")
    return 0


def deployment_image(spec: str, deployment: Deployment, image: str | None, registry: str | None) -> ImageRef:
    """What `deploy` names: --image, else the recorded (or engine-known) digest of --registry's copy."""
    def inspect(local: str) -> dict[str, Any] | None:
        from dockyard.engine.backends import backend_for

        try:
            return backend_for(detect("auto")).inspect(local)
        except DockyardError:
            return None

    return deploy_image(image, registry, deployment.name, deployment.version, deployment.image, state_file(),
                        inspect)
