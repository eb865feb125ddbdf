"""`dockyard up`'s two longer steps: build the image when it is missing (the build pipeline, with the
build command's progress view) and wait for /health with progress, then say how to talk to it."""

from __future__ import annotations

import json
from pathlib import Path

from rich.status import Status

from dockyard.cli.output import escape, print_note, print_warning, stderr, stdout
from dockyard.deploy import local
from dockyard.deploy.model import Deployment
from dockyard.engine.backends import backend_for
from dockyard.engine.detect import Engine
from dockyard.engine.maps import site_default
from dockyard.engine.report import human_size
from dockyard.errors import DockyardError, EngineError
from dockyard.pipeline import BuildOptions, prepare_build, run_build


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
                    mode: str) -> None:
    name = local.container_name(deployment, options)
    port = deployment.port if deployment.devices.host_network else local.host_port(deployment, options)
    base = f"http://127.0.0.1:{port}"
    last_plain = [-10.0]

    def alive() -> bool:
        found = local.state(engine, name)
        return found is not None and found["status"] == "running"

    with Status("", console=stderr) if mode == "live" else _NoStatus() as status:
        def tick(elapsed: float) -> None:
            line = f"waiting for {base}{deployment.health_path} ({name})  {elapsed:.0f}s"
            if isinstance(status, Status):
                status.update(escape(line))
            elif elapsed - last_plain[0] >= 10:
                last_plain[0] = elapsed
                stderr.print(escape(line))

        seconds = local.wait_healthy(f"{base}{deployment.health_path}", alive, timeout, tick)
    if seconds is None:
        logs = local.logs_tail(engine, name)
        died = not alive()
        local.stop(engine, name, deployment.grace_seconds)
        what = "exited" if died else f"did not answer /health within {timeout}s"
        raise DockyardError(f"{name} {what}; its last log lines:\n{logs or '(no output)'}",
                            "the container was removed; fix the cause above and run `dockyard up` again "
                            "(a large model may need --timeout SECONDS)")
    models = local.model_ids(base) or [deployment.model_id]
    stdout.print(f"[bold green]up[/] {base}  healthy after {seconds:.1f}s  container {escape(name)}  "
                 f"model {escape(models[0])}")
    stdout.print(example_requests(base, models[0]))
    print_note(f"stop it: dockyard down {spec} (within its grace period of {deployment.grace_seconds}s)")


def example_requests(base: str, model: str) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    return "\n".join([
        "curl:",
        f"  curl -s {base}/v1/chat/completions -H 'Content-Type: application/json' -d '{body}'",
        "python (pip install openai):",
        "  from openai import OpenAI",
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

