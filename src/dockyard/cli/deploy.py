"""deploy: a serve image to compose, Kubernetes or KServe files (up and down are in cli/serving.py)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from dockyard.cli.deploy_options import KUBERNETES_ONLY, add_cluster_options, cluster_files
from dockyard.cli.output import escape, print_note, print_warning, stdout
from dockyard.deploy.binding import LOOPBACK, bind_address, exposure
from dockyard.deploy.compose import ComposeOptions, render_compose
from dockyard.deploy.files import write_all
from dockyard.deploy.model import Deployment, from_plan
from dockyard.errors import InputError
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
from dockyard.spec.references import image_reference
from dockyard.spec.secrets import refuse_secret_value

SPEC_HELP = 'a spec file with profile = "serve" and a [serve] table'
COMPOSE_ONLY = ("bind", "host_port", "model_dir")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "deploy", help="write compose, Kubernetes or KServe files for a serve image",
        description="Write the files that run a serve image: a compose.yaml (read-only root, tmpfs /tmp, a cache "
                    "volume, the health check, the target's devices), Kubernetes manifests (Deployment, Service "
                    "and NetworkPolicy, optionally a HorizontalPodAutoscaler or a KEDA ScaledObject and a "
                    "PodDisruptionBudget; probes, resources sized from the model, the target's GPU resource, "
                    "tolerations and node selectors, a restricted securityContext) or a KServe InferenceService. "
                    "With --registry the image is named by the digest `dockyard push` recorded. Files dockyard did "
                    "not write are never overwritten.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--to", choices=("compose", "kubernetes", "kserve"), required=True, help="what to write")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write into")
    p.add_argument("--image", help="image reference (default: with --registry, REGISTRY/NAME@<pushed digest>; "
                   "else the tag `dockyard build` gives, dockyard/NAME:<spec digest>)")
    p.add_argument("--registry", help="the registry `dockyard push` pushed to, e.g. ghcr.io/acme: the image is named "
                   "by the digest it recorded")
    p.add_argument("--accelerators", type=int, default=1, metavar="N", help="accelerators per replica (default 1)")
    p.add_argument("--start-timeout", type=int, default=600, metavar="SECONDS",
                   help="how long the model may take to load before health checks count (default 600)")
    compose = p.add_argument_group("compose")
    compose.add_argument("--bind", help="host address the port is published on (default 127.0.0.1; 0.0.0.0 for all)")
    compose.add_argument("--host-port", type=int, help="host port (default: the serve port)")
    compose.add_argument("--model-dir", help="host folder of a mount: model (default: ${MODEL_DIR} at run time)")
    add_cluster_options(p.add_argument_group("kubernetes and kserve"))
    p.set_defaults(func=cmd_deploy)


def deployment_for(spec: str, image: str | None = None, accelerators: int = 1) -> Deployment:
    if image is not None:
        refuse_secret_value(image, "--image")
        image_reference(image, "--image")
    return from_plan(resolve(load(spec)), image, accelerators)


def host_folder(value: str, option: str) -> str:
    """A host folder from the command line, absolute; its text is kept literally (the writers escape it)."""
    refuse_secret_value(value, option)
    if not value or not value.isprintable():
        raise InputError(f"{option} {value!r}: not a folder name (empty, or a control character)")
    return str(Path(value).resolve())


def _refuse_other(args: argparse.Namespace, names: tuple[str, ...], to: str) -> None:
    given = [n for n in names if getattr(args, n) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise InputError(f"{flag} applies to --to {to}, not --to {args.to}", f"leave {flag} out, or use --to {to}")


def port_option(value: int | None, flag: str) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise InputError(f"{flag} {value}: out of range", "use a port from 1 to 65535")


def cmd_deploy(args: argparse.Namespace) -> int:
    from dockyard.cli.push import deployment_image

    if args.start_timeout < 1:
        raise InputError(f"--start-timeout {args.start_timeout}: must be 1 second or more")
    for flag, text in (("--image", args.image), ("--registry", args.registry)):
        if text is not None:
            refuse_secret_value(text, flag)
    deployment = deployment_for(args.spec, None, args.accelerators)
    image = deployment_image(args.spec, deployment, args.image, args.registry)
    deployment = replace(deployment, image=image.reference)
    notes = (image.note,) if image.note else ()
    warnings: list[str] = []
    sizing_notes: tuple[str, ...] = ()
    if args.to == "compose":
        _refuse_other(args, KUBERNETES_ONLY, "kubernetes")
        port_option(args.host_port, "--host-port")
        bind = bind_address(args.bind) if args.bind is not None else LOOPBACK
        warnings = exposure(deployment, bind, args.bind is not None, "--host-port" if args.host_port else None)
        model_dir = host_folder(args.model_dir, "--model-dir") if args.model_dir is not None else None
        if model_dir and deployment.model.kind != "mount":
            raise InputError(f"--model-dir {args.model_dir}: the model is baked into the image "
                             f"({deployment.model.spelled()})", "leave --model-dir out")
        options = ComposeOptions(bind=bind, host_port=args.host_port, model_dir=model_dir,
                                 start_seconds=args.start_timeout)
        files = render_compose(deployment, options, notes)
        run = f"docker-compose -f {args.output / 'compose.yaml'} up -d"
    else:
        _refuse_other(args, COMPOSE_ONLY, "compose")
        files, sizing_notes = cluster_files(args, deployment, notes)
        run = f"kubectl apply -f {args.output}"
    written = write_all(args.output, files)
    for path in written:
        stdout.print(f"wrote {escape(str(path))}")
    for warning in warnings:
        print_warning(warning)
    for note in (*sizing_notes, *notes):
        print_note(note)
    pinned = "" if image.note else " (pinned by digest)"
    print_note(f"image {deployment.image}{pinned}; run: {run}")
    return 0
