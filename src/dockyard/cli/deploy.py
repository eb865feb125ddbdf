"""deploy, up, down: a serve image to compose or Kubernetes files, or running on this machine."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from dockyard.cli.output import escape, print_note, print_warning, stderr, stdout, view_mode
from dockyard.deploy.compose import FAMILY as COMPOSE_FILES
from dockyard.deploy.compose import ComposeOptions, render_compose
from dockyard.deploy.files import write_all
from dockyard.deploy.kubernetes import FAMILY as KUBERNETES_FILES
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.deploy.model import KEY_SOURCE, Deployment, from_plan
from dockyard.engine.detect import BACKENDS
from dockyard.errors import InputError
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

SPEC_HELP = 'a spec file with profile = "serve" and a [serve] table'
COMPOSE_ONLY = ("bind", "host_port", "model_dir")
KUBERNETES_ONLY = ("replicas", "hpa_max", "hpa_cpu", "pdb", "model_volume", "node_selector", "cpu", "memory")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "deploy", help="write compose or Kubernetes files for a serve image",
        description="Write the files that run a serve image: a compose.yaml (read-only root, tmpfs /tmp, a cache "
                    "volume, the health check, the target's devices) or Kubernetes manifests (Deployment and "
                    "Service, optionally a HorizontalPodAutoscaler and a PodDisruptionBudget; probes on /health, "
                    "the target's GPU resource, a restricted securityContext). Files dockyard did not write are "
                    "never overwritten.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--to", choices=("compose", "kubernetes"), required=True, help="what to write")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write into")
    p.add_argument("--image", help="image reference (default: the tag `dockyard build` gives, "
                   "dockyard/NAME:<spec digest>)")
    p.add_argument("--accelerators", type=int, default=1, metavar="N", help="accelerators per replica (default 1)")
    p.add_argument("--start-timeout", type=int, default=600, metavar="SECONDS",
                   help="how long the model may take to load before health checks count (default 600)")
    compose = p.add_argument_group("compose")
    compose.add_argument("--bind", help="host address the port is published on (default 127.0.0.1; 0.0.0.0 for all)")
    compose.add_argument("--host-port", type=int, help="host port (default: the serve port)")
    compose.add_argument("--model-dir", help="host folder of a mount: model (default: ${MODEL_DIR} at run time)")
    kube = p.add_argument_group("kubernetes")
    kube.add_argument("--replicas", type=int, help="pods (default 1); with an accelerator, one each")
    kube.add_argument("--hpa-max", type=int, metavar="N", help="add a HorizontalPodAutoscaler up to N pods")
    kube.add_argument("--hpa-cpu", type=int, metavar="PERCENT", help="its CPU utilisation target (default 70)")
    kube.add_argument("--pdb", type=int, metavar="N", help="add a PodDisruptionBudget keeping N pods available")
    kube.add_argument("--model-volume", metavar="pvc:CLAIM|hostpath:/DIR", help="where a mount: model comes from")
    kube.add_argument("--node-selector", action="append", metavar="KEY=VALUE",
                      help="schedule on nodes with this label (repeatable; adds to the target's)")
    kube.add_argument("--cpu", help="CPU request (default 1)")
    kube.add_argument("--memory", help="memory request and limit (default 4Gi)")
    p.set_defaults(func=cmd_deploy)

    p = subparsers.add_parser(
        "up", help="run a serve image here and wait until it answers",
        description="Build the spec's image if it is missing (its tag covers the spec and a path: model's files), "
                    "run it as its user on a read-only root (tmpfs /tmp, a cache volume, no capabilities, the "
                    "target's devices, the port on 127.0.0.1), wait until the gateway's /ready answers, run verify's "
                    "checks through the gateway (the model list, a chat completion, the API key, the hidden admin "
                    "routes, the metrics), and only then print the URL and an example request. Exit 1 with the "
                    "server's own error (or the container's last log lines) when it never becomes ready or a check "
                    "fails; the container is removed then.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--port", type=int, help="host port (default: the serve port)")
    p.add_argument("--bind", default="127.0.0.1", help="host address to publish on (default 127.0.0.1)")
    p.add_argument("--model-dir", type=Path, help="host folder of a mount: model")
    p.add_argument("--name", help="container name (default dockyard-NAME)")
    p.add_argument("--timeout", type=int, default=600, metavar="SECONDS", help="how long to wait for /ready")
    p.add_argument("--set", action="append", dest="settings", metavar="KEY=VALUE",
                   help="a run-time setting over the image's default, without a rebuild (repeatable): name, device, "
                        "dtype, quantization, continuous-batching, cb-memory-percent, trust-remote-code, api-key, "
                        "admin-routes, warm-up")
    p.add_argument("--api-key", action="store_true",
                   help="require an API key: make one, print it once, and mount it read-only in the container")
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
    p.add_argument("--volumes", action="store_true", help="also remove the cache volume")
    p.set_defaults(func=cmd_down)


def deployment_for(spec: str, image: str | None = None, accelerators: int = 1) -> Deployment:
    return from_plan(resolve(load(spec)), image, accelerators)


def _pairs(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--node-selector {item!r} is not KEY=VALUE", "e.g. --node-selector pool=gpu")
        pairs.append((key, value))
    return tuple(pairs)


def _refuse_other(args: argparse.Namespace, names: tuple[str, ...], to: str) -> None:
    given = [n for n in names if getattr(args, n) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise InputError(f"{flag} applies to --to {to}, not --to {args.to}", f"leave {flag} out, or use --to {to}")


def _port(value: int | None, flag: str) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise InputError(f"{flag} {value}: out of range", "use a port from 1 to 65535")


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.start_timeout < 1:
        raise InputError(f"--start-timeout {args.start_timeout}: must be 1 second or more")
    deployment = deployment_for(args.spec, args.image, args.accelerators)
    if args.to == "compose":
        _refuse_other(args, KUBERNETES_ONLY, "kubernetes")
        _port(args.host_port, "--host-port")
        model_dir = str(Path(args.model_dir).resolve()) if args.model_dir else None
        if model_dir and deployment.model.kind != "mount":
            raise InputError(f"--model-dir {args.model_dir}: the model is baked into the image "
                             f"({deployment.model.spelled()})", "leave --model-dir out")
        options = ComposeOptions(bind=args.bind or "127.0.0.1", host_port=args.host_port, model_dir=model_dir,
                                 start_seconds=args.start_timeout)
        files, family = render_compose(deployment, options), COMPOSE_FILES
        run = f"docker-compose -f {args.output / 'compose.yaml'} up -d"
    else:
        _refuse_other(args, COMPOSE_ONLY, "compose")
        kube = KubernetesOptions(
            replicas=args.replicas if args.replicas is not None else 1, hpa_max=args.hpa_max,
            hpa_cpu=args.hpa_cpu if args.hpa_cpu is not None else 70, pdb=args.pdb, model_volume=args.model_volume,
            node_selector=_pairs(args.node_selector), cpu=args.cpu or "1", memory=args.memory or "4Gi",
            start_seconds=args.start_timeout)
        files, family = render_kubernetes(deployment, kube), KUBERNETES_FILES
        run = f"kubectl apply -f {args.output}"
    written = write_all(args.output, files, family)
    for path in written:
        stdout.print(f"wrote {escape(str(path))}")
    print_note(f"image {deployment.image} (build it: dockyard build {args.spec}); run: {run}")
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
    settings = up_settings(args.settings or [], deployment)
    options = local.LocalOptions(host_port=args.port, bind=args.bind, model_dir=model_dir, name=args.name,
                                 settings=settings)
    engine = detect(args.backend)
    name = local.container_name(deployment, options)
    running = local.state(engine, name)
    key = None
    if running is not None and running["status"] == "running":
        if running["image"] != deployment.image:
            raise InputError(f"{name} is already running {running['image']}, not {deployment.image}",
                             f"stop it first: dockyard down {args.spec} (the spec or its model changed)")
        print_note(f"{name} is already up" + (" (its key was printed when it started; it is in "
                                              f"{local.key_file(name)})" if local.key_file(name).exists() else ""))
    else:
        build_if_missing(args.spec, deployment, engine, args.no_build, args.progress)
        key_source = dict(settings).get(KEY_SOURCE, deployment.key_source)
        if args.api_key or key_source.startswith("file:"):
            key = local.write_key(local.key_file(name))  # a file: key the spec names is made here too
            options = replace(options, key_file=str(local.key_file(name)))
        elif key_source.startswith("env:") and not os.environ.get(key_source[4:]):
            raise InputError(f"{deployment.source}: [serve].api-key = \"{key_source}\": {key_source[4:]} is not set "
                             "here, and the container reads its key from it", f"export {key_source[4:]}=KEY, or "
                             "use --api-key (dockyard makes a key and mounts it)")
        argv = local.run_argv(engine, deployment, options, local.host_gids(deployment.devices.host_groups))
        local.start(engine, argv, name)
    wait_and_report(args.spec, engine, deployment, options, args.timeout, view_mode(args.progress), key)
    return 0


def up_settings(items: list[str], deployment: Deployment) -> tuple[tuple[str, str], ...]:
    """`--set KEY=VALUE` -> (variable, value), each checked as the spec's key would be."""
    from dockyard.knowledge.serving import serve_knowledge
    from dockyard.spec.serve import check_setting

    found: dict[str, str] = {}
    for item in items:
        key, value = check_setting(item)
        found[serve_knowledge().setting(key).env] = value
    return tuple(sorted(found.items()))


def cmd_down(args: argparse.Namespace) -> int:
    from dockyard.deploy import local
    from dockyard.engine.detect import detect

    deployment = deployment_for(args.spec)
    options = local.LocalOptions(name=args.name)
    engine = detect(args.backend)
    name = local.container_name(deployment, options)
    local.remove_key(name)
    if local.state(engine, name) is None:
        print_warning(f"no container {name} (nothing to stop)")
    else:
        seconds = local.stop(engine, name, deployment.grace_seconds)
        stdout.print(f"[bold green]stopped[/] {escape(name)} in {seconds:.1f}s "
                     f"(grace period {deployment.grace_seconds}s)")
    if args.volumes:
        from dockyard.engine.detect import run_command

        run_command([engine.client, "volume", "rm", "--force", local.cache_volume(deployment)])
        stderr.print(f"removed volume {escape(local.cache_volume(deployment))}")
    return 0
