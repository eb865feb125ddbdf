"""`dockyard up` and `dockyard down`: the ownership rule (deploy/ownership.py) applied to a real engine,
the image built when it is missing (the build pipeline, with the build command's progress view), the
gateway's /ready waited on with progress, verify's checks run through the gateway, and what to do next.

`up` touches only what carries this spec's labels; a running container of this spec is reused only when
it was started from the same spec digest with the same options (anything else is refused, so a healthy
server is never replaced by a second `up`). A container this run started is removed again when it never
gets healthy or on Ctrl-C; one that was up before keeps running, and the message says so."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.status import Status

from dockyard.cli.deploy import SPEC_HELP, deployment_for, host_folder, port_option
from dockyard.cli.output import escape, print_note, print_warning, stderr, stdout, view_mode
from dockyard.deploy import local, ownership
from dockyard.deploy.binding import LOOPBACK, bind_address, exposure
from dockyard.deploy.model import KEY_SOURCE, Deployment
from dockyard.engine.backends import backend_for
from dockyard.engine.detect import BACKENDS, Engine, detect, run_command
from dockyard.engine.maps import site_default
from dockyard.engine.report import human_size
from dockyard.errors import DockyardError, EngineError, InputError
from dockyard.pipeline import BuildOptions, prepare_build, run_build
from dockyard.spec.secrets import refuse_secret_value
from dockyard.verify.serving import run_client, server_error


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "up", help="run a serve image here and wait until it answers",
        description="Build the spec's image if it is missing (its tag covers the spec and a path: model's files), "
                    "run it as its user on a read-only root (tmpfs /tmp, a cache volume, no capabilities, the "
                    "target's devices, the port on 127.0.0.1), wait until the gateway's /ready answers, run verify's "
                    "checks through the gateway (the model list, a chat completion, the API key, the hidden admin "
                    "routes, the metrics), and only then print the URL and an example request. Exit 1 with the "
                    "server's own error (or the container's last log lines) when it never gets ready or a check "
                    "fails. The container and its cache volume carry dockyard's "
                    "labels (this spec); a container or volume of the same name that does not is never touched, "
                    "and a running one started with other options is not replaced. Ctrl-C stops what this run "
                    "started.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--port", type=int, help="host port (default: the serve port)")
    p.add_argument("--bind", help="host IP address to publish on (default 127.0.0.1; 0.0.0.0 for all, with a warning)")
    p.add_argument("--model-dir", help="host folder of a mount: model")
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
    p.set_defaults(func=up)

    p = subparsers.add_parser(
        "down", help="stop what `dockyard up` started",
        description="Stop the spec's container within its grace period ([serve] grace-seconds; then it is "
                    "killed) and remove it. The model cache volume stays unless --volumes. Only a container or "
                    "volume that `dockyard up` started for this spec (its labels) is stopped or removed.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--name", help="container name (default dockyard-NAME)")
    p.add_argument("--volumes", action="store_true", help="also remove the cache volume (and the model volume of a "
                   "model fetched at start)")
    p.set_defaults(func=down)


def _options(args: argparse.Namespace, deployment: Deployment) -> tuple[local.LocalOptions, list[str]]:
    """up's options, checked; and the warnings about who can reach the server."""
    port_option(args.port, "--port")
    if args.timeout < 1:
        raise InputError(f"--timeout {args.timeout}: must be 1 second or more", "e.g. --timeout 600")
    bind = bind_address(args.bind) if args.bind is not None else LOOPBACK
    warnings = exposure(deployment, bind, args.bind is not None, "--port" if args.port else None)
    model_dir = None
    if args.model_dir is not None:
        if deployment.model.kind != "mount":
            raise InputError(f"--model-dir {args.model_dir}: the model is baked into the image "
                             f"({deployment.model.spelled()})", "leave --model-dir out")
        model_dir = host_folder(args.model_dir, "--model-dir")
        if "," in model_dir or '"' in model_dir:
            raise InputError(f"--model-dir {args.model_dir!r}: a ',' or '\"' in the folder's path cannot be mounted by "
                             "`docker run --mount`", "move or link the model to a folder without them")
        if not Path(model_dir).is_dir():
            raise InputError(f"--model-dir {args.model_dir}: no such folder", "give the folder holding config.json")
    if args.name is not None:
        refuse_secret_value(args.name, "--name")
    settings = up_settings(args.settings or [])
    options = local.LocalOptions(host_port=args.port, bind=bind, model_dir=model_dir, name=args.name,
                                 settings=settings)
    source = dict(settings).get(KEY_SOURCE, deployment.key_source)
    if args.api_key or source.startswith("file:"):  # a file: key the spec names is made here too
        options = replace(options, key_file=str(local.key_file(local.container_name(deployment, options))))
    elif source.startswith("env:") and not os.environ.get(source[4:]):
        raise InputError(f"{deployment.source}: [serve].api-key = \"{source}\": {source[4:]} is not set here, and "
                         "the container reads its key from it", f"export {source[4:]}=KEY, or use --api-key "
                         "(dockyard makes a key and mounts it)")
    return options, warnings


def up_settings(items: list[str]) -> tuple[tuple[str, str], ...]:
    """`--set KEY=VALUE` -> (variable, value), each checked as the spec's key would be."""
    from dockyard.knowledge.serving import serve_knowledge
    from dockyard.spec.serve import check_setting

    found: dict[str, str] = {}
    for item in items:
        key, value = check_setting(item)
        found[serve_knowledge().setting(key).env] = value
    return tuple(sorted(found.items()))


def up(args: argparse.Namespace) -> int:
    deployment = deployment_for(args.spec)
    options, warnings = _options(args, deployment)
    name = local.container_name(deployment, options)  # a bad --name is refused before the engine is asked
    engine = detect(args.backend)
    wanted = local.run_options(deployment, options)
    found = local.state(engine, name)
    if found is not None and not ownership.owns(found.owner, deployment):
        raise local.foreign("container", name, found.owner, deployment)
    for warning in warnings:
        print_warning(warning)
    again = _name_flag(args)
    run, key = "", None
    if found is not None and found.status == "running":
        if found.owner.digest != deployment.spec_digest:
            raise InputError(f"{name} is running an earlier version of this spec ({found.owner.digest or 'unknown'}; "
                             f"the spec is now {deployment.spec_digest}); it keeps running",
                             f"stop it first: dockyard down {args.spec}{again}, then run up again")
        if not options.key_file:  # without --api-key, a second `up` takes the running container's key as it is
            wanted["api-key"] = found.owner.options.get("api-key", "")
        changed = ownership.changed_options(found.owner, wanted)
        if changed:
            raise InputError(f"{name} is already up with other options ({'; '.join(changed)}); it keeps running",
                             f"stop it first (dockyard down {args.spec}{again}), or run a second one beside it "
                             f"with --name {name}-2 and another --port")
        kept = local.key_file(name)
        print_note(f"{name} is already up" + (f" (its key was printed when it started; it is in {kept})"
                                              if kept.exists() else ""))
    else:
        build_if_missing(args.spec, deployment, engine, args.no_build, args.progress)
        for volume in local.volumes(deployment, options):
            local.claim_volume(engine, deployment, options, volume=volume)
        if deployment.model.fetched_at_start:
            fetch_model(engine, deployment, options, args.timeout)
        if options.key_file:
            key = local.write_key(Path(options.key_file))
        run = ownership.new_run_token()
        argv = local.run_argv(engine, deployment, options, local.host_gids(deployment.devices.host_groups), run)
    try:
        if run:
            local.start(engine, argv, name, deployment, run)
        wait_and_report(args.spec, engine, deployment, options, args.timeout, view_mode(args.progress), run, key)
    except KeyboardInterrupt:
        if run and local.remove_own(engine, name, run):
            local.remove_key(name)
            print_warning(f"interrupted: removed {name}, which this `dockyard up` started")
        elif not run:
            print_warning(f"interrupted: {name} keeps running (it was up before this command); stop it: "
                          f"dockyard down {args.spec}{again}")
        raise
    return 0


def _name_flag(args: argparse.Namespace) -> str:
    return f" --name {args.name}" if args.name else ""


def down(args: argparse.Namespace) -> int:
    deployment = deployment_for(args.spec)
    options = local.LocalOptions(name=args.name)
    engine = detect(args.backend)
    name = local.container_name(deployment, options)
    found = local.state(engine, name)
    if found is None:
        print_warning(f"no container {name} (nothing to stop)")
    elif not ownership.owns(found.owner, deployment):
        raise local.foreign("container", name, found.owner, deployment)
    else:
        if found.owner.digest != deployment.spec_digest:
            print_note(f"{name} was started from an earlier version of this spec ({found.owner.digest})")
        seconds = local.stop(engine, name, deployment.grace_seconds)
        local.remove_key(name)
        stdout.print(f"[bold green]stopped[/] {escape(name)} in {seconds:.1f}s "
                     f"(grace period {deployment.grace_seconds}s)")
    if args.volumes:
        for volume in local.volumes(deployment, options):
            remove_volume(engine, deployment, volume)
    return 0


def fetch_model(engine: Engine, deployment: Deployment, options: local.LocalOptions, timeout: int) -> None:
    """The fetch step before the server: the image downloads its model into the model volume (or finds it
    there). HF_TOKEN and HF_ENDPOINT are handed through by name when this process has them."""
    import os

    env_names = [name for name in ("HF_TOKEN", "HF_ENDPOINT") if os.environ.get(name)]
    volume = local.model_volume(deployment, options)
    stderr.print(f"fetching {escape(deployment.model.spelled())} into volume {escape(volume)} "
                 f"({'with' if 'HF_TOKEN' in env_names else 'without'} HF_TOKEN)")
    ok, tail = local.run_fetch(local.fetch_argv(engine, deployment, options, env_names), timeout)
    if not ok:
        raise EngineError(f"fetching {deployment.model.spelled()} failed; its last lines:\n{tail or '(no output)'}",
                          "check the revision, the network (or HF_ENDPOINT) and, for a gated model, HF_TOKEN; a volume "
                          "already holding the revision needs neither")
    said = [line for line in tail.splitlines() if line.startswith("dockyard: ")]
    stderr.print(escape(said[-1] if said else "fetched"))


def remove_volume(engine: Engine, deployment: Deployment, volume: str) -> None:
    found = local.volume_state(engine, volume)
    if found is None:
        print_note(f"no volume {volume} (nothing to remove)")
        return
    if not ownership.owns(found.owner, deployment):
        raise local.foreign("volume", volume, found.owner, deployment)
    done = run_command([engine.client, "volume", "rm", volume])
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise EngineError(f"the volume {volume} was not removed: {reason}",
                          "a container still uses it: stop that container, then run down --volumes again")
    stderr.print(f"removed volume {escape(volume)}")


def build_if_missing(spec: str, deployment: Deployment, engine: Engine, no_build: bool, progress: str) -> None:
    from dockyard.cli.build import StepView

    if backend_for(engine).inspect(deployment.image) is not None:
        return
    if no_build:
        raise EngineError(f"image {deployment.image} is not in the local {engine.kind} store",
                          f"build it: dockyard build {spec} (or drop --no-build)")
    wheelhouse = Path(w) if (w := site_default("wheelhouse")) else None
    options = BuildOptions(backend=engine.kind, ca_cert=site_default("ca-cert"), wheelhouse=wheelhouse)
    prepared = prepare_build(spec, options, engine)
    for warning in prepared.warnings:
        print_warning(warning)
    stderr.print(f"[bold]{escape(deployment.image)}[/] is missing: building it with {escape(engine.describe())}")
    with StepView(progress, False, prepared.plan.name) as view:
        report = run_build(prepared, view.on_line)
    # the tag `up` announced and runs (the spec digest's), not the first of the build's tags
    built = deployment.image if deployment.image in report.tags else report.tags[0]
    stderr.print(f"[bold green]built[/] {escape(built)}  {human_size(report.size)}  "
                 f"in {report.wall_seconds:.0f}s  log: {escape(report.log_path)}")


def wait_and_report(spec: str, engine: Engine, deployment: Deployment, options: local.LocalOptions, timeout: int,
                    mode: str, run: str = "", key: str | None = None) -> None:
    """Wait for the gateway's /ready, then run verify's checks through it in the container. `run`: the token
    of the container this command started (removed again when it never gets ready or a check fails); empty
    when it was up before (then it keeps running, whatever happens here). `key`: made by this run, shown once."""
    name = local.container_name(deployment, options)
    port = deployment.port if deployment.devices.host_network else local.host_port(deployment, options)
    base = f"http://127.0.0.1:{port}"
    last_plain = [-10.0]

    def alive() -> bool:
        found = local.state(engine, name)
        return found is not None and found.status == "running"

    def give_up(message: str, cause: str) -> DockyardError:
        if run and local.remove_own(engine, name, run):
            local.remove_key(name)
            after = (f"the container was removed; {cause}fix it and run `dockyard up` again (a large model may need "
                     "--timeout SECONDS)")
        else:
            after = f"it was up before this command and is left as it is; stop it with: dockyard down {spec}"
        return DockyardError(message, after)

    with Status("", console=stderr) if mode == "live" else _NoStatus() as status:
        def tick(elapsed: float) -> None:
            line = f"waiting for {base}{deployment.ready_path} ({name})  {elapsed:.0f}s"
            if isinstance(status, Status):
                status.update(escape(line))
            elif elapsed - last_plain[0] >= 10:
                last_plain[0] = elapsed
                stderr.print(escape(line))

        seconds = local.wait_healthy(f"{base}{deployment.ready_path}", alive, timeout, tick)
    if seconds is None:
        logs = local.logs_tail(engine, name)
        cause = server_error(logs)
        what = "exited" if not alive() else f"did not answer {deployment.ready_path} within {timeout}s"
        raise give_up(f"{name} {what}{'; the server said: ' + cause if cause else ''}; its last log lines:\n"
                      f"{logs or '(no output)'}", "")
    failed = [c for c in run_client(engine.client, name, deployment.expect(), 120) if not c["ok"]]
    if failed:
        lines = "\n".join(f"  {c['name']}: expected {c['expected']}, got {c['actual']}. {c['detail']}".rstrip()
                          for c in failed)
        raise give_up(f"{name} answered {deployment.ready_path}, but verify's checks through the gateway failed:\n"
                      f"{lines}", "the image serves, but not correctly (a model without a chat template answers 500 "
                      "on /v1/chat/completions: add one to tokenizer_config.json; `dockyard check` warns about it); ")
    model = dict(options.settings).get("DOCKYARD_SERVE_NAME") or deployment.model_id
    stdout.print(f"[bold green]up[/] {base}  ready after {seconds:.1f}s, verified through the gateway  container "
                 f"{escape(name)}  model {escape(model)}")
    keyed = bool(options.key_file or dict(options.settings).get(KEY_SOURCE, deployment.key_source))
    if key is not None:
        stdout.print(f"API key (shown once; kept in {escape(str(local.key_file(name)))}): {key}")
    stdout.print(example_requests(base, model, "$DOCKYARD_API_KEY" if keyed else None))
    print_note(f"stop it: dockyard down {spec} (within its grace period of {deployment.grace_seconds}s)")


def example_requests(base: str, model: str, key: str | None = None) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    auth = f' -H "Authorization: Bearer {key}"' if key else ""
    return "\n".join([
        "curl:",
        f"  curl -s {base}/v1/chat/completions{auth} -H 'Content-Type: application/json' -d '{body}'",
        "python (pip install openai):",
        "  import os; from openai import OpenAI" if key else "  from openai import OpenAI",
        f'  client = OpenAI(base_url="{base}/v1", api_key=os.environ["DOCKYARD_API_KEY"])' if key else
        f'  client = OpenAI(base_url="{base}/v1", api_key="unused")',
        f'  reply = client.chat.completions.create(model="{model}", '
        'messages=[{"role": "user", "content": "Hello!"}])',
        "  print(reply.choices[0].message.content)",
    ])


class _NoStatus:
    def __enter__(self) -> _NoStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

