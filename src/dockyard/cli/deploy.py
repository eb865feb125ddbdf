"""deploy, up, down: a serve image to compose, Kubernetes or KServe files, or running on this machine."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.cli.deploy_options import KUBERNETES_ONLY, add_cluster_options, cluster_files
from dockyard.cli.output import escape, print_note, print_warning, stderr, stdout, view_mode
from dockyard.deploy.compose import FAMILY as COMPOSE_FILES
from dockyard.deploy.compose import ComposeOptions, render_compose
from dockyard.deploy.files import write_all
from dockyard.deploy.model import Deployment, from_plan
from dockyard.engine.detect import BACKENDS
from dockyard.errors import InputError
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

if TYPE_CHECKING:
    from dockyard.deploy.local import LocalOptions
    from dockyard.engine.detect import Engine

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

    p = subparsers.add_parser(
        "up", help="run a serve image here and wait until it answers",
        description="Build the spec's image if it is missing, run it as its user on a read-only root (tmpfs /tmp, "
                    "a cache volume, no capabilities, the target's devices, the port on 127.0.0.1), wait until "
                    "/health answers, and print the URL and an example request. Exit 1 with the container's last "
                    "log lines when it never becomes healthy.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--port", type=int, help="host port (default: the serve port)")
    p.add_argument("--bind", default="127.0.0.1", help="host address to publish on (default 127.0.0.1)")
    p.add_argument("--model-dir", type=Path, help="host folder of a mount: model")
    p.add_argument("--name", help="container name (default dockyard-NAME)")
    p.add_argument("--timeout", type=int, default=600, metavar="SECONDS", help="how long to wait for /health")
    p.add_argument("--no-build", action="store_true", help="fail instead of building a missing image")
    p.add_argument("--progress", choices=("auto", "live", "plain"), default="auto")
    p.set_defaults(func=cmd_up)

    p = subparsers.add_parser(
        "down", help="stop what `dockyard up` started",
        description="Stop the spec's container within its grace period ([serve] grace-seconds; then it is "
                    "killed) and remove it. The model cache volume stays unless --volumes.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--name", help="container name (default dockyard-NAME)")
    p.add_argument("--volumes", action="store_true", help="also remove the cache volume (and the model volume of a "
                   "model fetched at start)")
    p.set_defaults(func=cmd_down)


def deployment_for(spec: str, image: str | None = None, accelerators: int = 1) -> Deployment:
    return from_plan(resolve(load(spec)), image, accelerators)


def _refuse_other(args: argparse.Namespace, names: tuple[str, ...], to: str) -> None:
    given = [n for n in names if getattr(args, n) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise InputError(f"{flag} applies to --to {to}, not --to {args.to}", f"leave {flag} out, or use --to {to}")


def _port(value: int | None, flag: str) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise InputError(f"{flag} {value}: out of range", "use a port from 1 to 65535")


def cmd_deploy(args: argparse.Namespace) -> int:
    from dockyard.cli.push import deployment_image

    if args.start_timeout < 1:
        raise InputError(f"--start-timeout {args.start_timeout}: must be 1 second or more")
    deployment = deployment_for(args.spec, None, args.accelerators)
    image = deployment_image(args.spec, deployment, args.image, args.registry)
    deployment = replace(deployment, image=image.reference)
    notes = (image.note,) if image.note else ()
    if args.to == "compose":
        _refuse_other(args, KUBERNETES_ONLY, "kubernetes")
        _port(args.host_port, "--host-port")
        model_dir = str(Path(args.model_dir).resolve()) if args.model_dir else None
        if model_dir and deployment.model.kind != "mount":
            raise InputError(f"--model-dir {args.model_dir}: the model is baked into the image "
                             f"({deployment.model.spelled()})", "leave --model-dir out")
        options = ComposeOptions(bind=args.bind or "127.0.0.1", host_port=args.host_port, model_dir=model_dir,
                                 start_seconds=args.start_timeout)
        files, family = render_compose(deployment, options, notes), COMPOSE_FILES
        run = f"docker-compose -f {args.output / 'compose.yaml'} up -d"
        sizing_notes: tuple[str, ...] = ()
    else:
        _refuse_other(args, COMPOSE_ONLY, "compose")
        files, family, sizing_notes = cluster_files(args, deployment, notes)
        run = f"kubectl apply -f {args.output}"
    written = write_all(args.output, files, family)
    for path in written:
        stdout.print(f"wrote {escape(str(path))}")
    for note in (*sizing_notes, *notes):
        print_note(note)
    pinned = "" if image.note else " (pinned by digest)"
    print_note(f"image {deployment.image}{pinned}; run: {run}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from dockyard.cli.serving import build_if_missing, wait_and_report
    from dockyard.deploy import local
    from dockyard.engine.detect import detect

    _port(args.port, "--port")
    deployment = deployment_for(args.spec)
    model_dir = None
    if args.model_dir is not None:
        if deployment.model.kind != "mount":
            raise InputError(f"--model-dir {args.model_dir}: the model is baked into the image "
                             f"({deployment.model.spelled()})", "leave --model-dir out")
        if not args.model_dir.is_dir():
            raise InputError(f"--model-dir {args.model_dir}: no such folder", "give the folder holding config.json")
        model_dir = str(args.model_dir.resolve())
    options = local.LocalOptions(host_port=args.port, bind=args.bind, model_dir=model_dir, name=args.name)
    engine = detect(args.backend)
    name = local.container_name(deployment, options)
    running = local.state(engine, name)
    if running is not None and running["status"] == "running":
        if running["image"] != deployment.image:
            raise InputError(f"{name} is already running {running['image']}, not {deployment.image}",
                             f"stop it first: dockyard down {args.spec}")
        print_note(f"{name} is already up")
    else:
        build_if_missing(args.spec, deployment, engine, args.no_build, args.progress)
        if deployment.model.fetched_at_start:
            fetch_model(engine, deployment, options, args.timeout)
        argv = local.run_argv(engine, deployment, options, local.host_gids(deployment.devices.host_groups))
        local.start(engine, argv, name)
    wait_and_report(args.spec, engine, deployment, options, args.timeout, view_mode(args.progress))
    return 0


def fetch_model(engine: Engine, deployment: Deployment, options: LocalOptions, timeout: int) -> None:
    """The fetch step before the server: the image downloads its model into the model volume (or finds it
    there). HF_TOKEN and HF_ENDPOINT are handed through by name when this process has them."""
    import os

    from dockyard.deploy import local
    from dockyard.errors import EngineError

    env_names = [name for name in ("HF_TOKEN", "HF_ENDPOINT") if os.environ.get(name)]
    volume = local.model_volume(deployment)
    stderr.print(f"fetching {escape(deployment.model.spelled())} into volume {escape(volume)} "
                 f"({'with' if 'HF_TOKEN' in env_names else 'without'} HF_TOKEN)")
    ok, tail = local.run_fetch(local.fetch_argv(engine, deployment, options, env_names), timeout)
    if not ok:
        raise EngineError(f"fetching {deployment.model.spelled()} failed; its last lines:\n{tail or '(no output)'}",
                          "check the revision, the network (or HF_ENDPOINT) and, for a gated model, HF_TOKEN; a volume "
                          "already holding the revision needs neither")
    said = [line for line in tail.splitlines() if line.startswith("dockyard: ")]
    stderr.print(escape(said[-1] if said else "fetched"))


def cmd_down(args: argparse.Namespace) -> int:
    from dockyard.deploy import local
    from dockyard.engine.detect import detect

    deployment = deployment_for(args.spec)
    options = local.LocalOptions(name=args.name)
    engine = detect(args.backend)
    name = local.container_name(deployment, options)
    if local.state(engine, name) is None:
        print_warning(f"no container {name} (nothing to stop)")
    else:
        seconds = local.stop(engine, name, deployment.grace_seconds)
        stdout.print(f"[bold green]stopped[/] {escape(name)} in {seconds:.1f}s "
                     f"(grace period {deployment.grace_seconds}s)")
    if args.volumes:
        from dockyard.engine.detect import run_command

        volumes = [local.cache_volume(deployment)]
        if deployment.model.fetched_at_start:
            volumes.append(local.model_volume(deployment))
        for volume in volumes:
            run_command([engine.client, "volume", "rm", "--force", volume])
            stderr.print(f"removed volume {escape(volume)}")
    return 0
