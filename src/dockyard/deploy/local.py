"""Run a serve image on this machine (`dockyard up` / `down`): the container as the image's user on a
read-only root with a tmpfs /tmp, a named volume for the Hugging Face cache, no capabilities, the
target's devices (knowledge/deploy.toml), the port on loopback; wait for /health; stop within the
grace period. A `hub:` model fetched at start is first downloaded by the same image run with the download
command into a named volume (skipped when the volume holds it), which the server mounts read-only. The
engine is docker or podman (their `run` flags are the same here)."""

from __future__ import annotations

import grp
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dockyard.deploy import fetch
from dockyard.deploy.model import Deployment
from dockyard.engine.backends import podman_ulimits
from dockyard.engine.detect import Engine, Runner, run_command
from dockyard.errors import EngineError, InputError

# Engine flags for a compose device reservation driver (knowledge/deploy.toml `reservation`).
RESERVATION_FLAGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("nvidia", "docker"): ("--gpus", "{count}"),
    ("nvidia", "podman"): ("--device", "nvidia.com/gpu=all"),
}


@dataclass(frozen=True)
class LocalOptions:
    host_port: int | None = None  # default: the serve port
    bind: str = "127.0.0.1"
    model_dir: str | None = None  # host folder of a mount: model
    name: str | None = None  # container name; default dockyard-NAME


def container_name(deployment: Deployment, options: LocalOptions) -> str:
    return options.name or f"dockyard-{deployment.name}"


def cache_volume(deployment: Deployment) -> str:
    return f"dockyard-{deployment.name}-hf-cache"


def model_volume(deployment: Deployment) -> str:
    """The named volume a model fetched at start lives in (kept by `down`, removed by `down --volumes`)."""
    return f"dockyard-{deployment.name}-model"


def host_port(deployment: Deployment, options: LocalOptions) -> int:
    return options.host_port or deployment.port


def host_gids(groups: Sequence[str]) -> dict[str, int]:
    gids = {}
    for group in groups:
        try:
            gids[group] = grp.getgrnam(group).gr_gid
        except KeyError:
            raise EngineError(f"this host has no {group!r} group, which owns the accelerator's device nodes",
                              "install the accelerator's driver (it creates the group), or run on the GPU host") \
                from None
    return gids


def _hardened(engine: Engine, deployment: Deployment) -> list[str]:
    argv = ["--user", f"{deployment.uid}:{deployment.uid}", "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--volume", f"{cache_volume(deployment)}:{deployment.cache_dir}"]
    return argv + (podman_ulimits() if engine.kind == "podman" else [])


def fetch_argv(engine: Engine, deployment: Deployment, options: LocalOptions, env_names: Sequence[str]) -> list[str]:
    """The one-shot container that downloads the model into its volume. `env_names`: variables handed
    through by name (HF_TOKEN, HF_ENDPOINT): their values come from this process's environment, never
    from the command line."""
    command = fetch.command(deployment)
    argv = [engine.client, "run", "--rm", "--name", f"{container_name(deployment, options)}-fetch",
            *_hardened(engine, deployment),
            "--volume", f"{model_volume(deployment)}:{deployment.model.container_path}",
            *[f"--label={key}={value}" for key, value in deployment.labels.items()]]
    for name in env_names:
        argv += ["--env", name]
    return [*argv, "--entrypoint", command[0], deployment.image, *command[1:]]


def run_fetch(argv: list[str], timeout: float) -> tuple[bool, str]:
    """(succeeded, its last output lines)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"the download did not finish within {timeout:.0f} s"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
    return done.returncode == 0, tail


def run_argv(engine: Engine, deployment: Deployment, options: LocalOptions, gids: Mapping[str, int]) -> list[str]:
    facts = deployment.devices
    argv = [engine.client, "run", "--detach", "--name", container_name(deployment, options),
            *_hardened(engine, deployment), "--stop-timeout", str(deployment.grace_seconds)]
    argv += [f"--label={key}={value}" for key, value in deployment.labels.items()]
    if fetch.fetches(deployment):
        argv += ["--volume", f"{model_volume(deployment)}:{deployment.model.container_path}:ro"]
    if facts.shm:
        argv += ["--shm-size", facts.shm.replace("Gi", "g").replace("Mi", "m")]
    if facts.host_network:
        argv += ["--network", "host"]
    else:
        argv += ["--publish", f"{options.bind}:{host_port(deployment, options)}:{deployment.port}"]
    if deployment.model.kind == "mount":
        if not options.model_dir:
            raise InputError(f"{deployment.source}: [serve].model = \"{deployment.model.spelled()}\" is mounted at run "
                             "time, and no folder was named", "add --model-dir HOST_DIR (the folder holding the "
                             "model's config.json)")
        argv += ["--volume", f"{options.model_dir}:{deployment.model.container_path}:ro"]
    for device in facts.devices:
        argv += ["--device", device]
    for group in facts.groups:
        argv += ["--group-add", group]
    for group in facts.host_groups:
        argv += ["--group-add", str(gids[group])]
    if facts.privileged:
        argv.append("--privileged")
    if facts.reservation:
        flags = RESERVATION_FLAGS[(facts.reservation, engine.kind)]
        argv += [flag.format(count=deployment.accelerators) for flag in flags]
    return [*argv, deployment.image]


def state(engine: Engine, name: str, runner: Runner = run_command) -> dict[str, str] | None:
    """`{"status": "running", "image": ..., "digest": ...}` of a container, or None when there is none."""
    done = runner([engine.client, "container", "inspect", name], None)
    if done.returncode != 0:
        return None
    data = json.loads(done.stdout or "[]")
    if not data:
        return None
    labels = data[0].get("Config", {}).get("Labels") or {}
    return {"status": str(data[0].get("State", {}).get("Status", "")).lower(),
            "image": str(data[0].get("Config", {}).get("Image", "")),
            "digest": str(labels.get("dockyard.spec-digest", ""))}


def logs_tail(engine: Engine, name: str, lines: int = 25, runner: Runner = run_command) -> str:
    done = runner([engine.client, "logs", "--tail", str(lines), name], None)
    return (done.stdout + done.stderr).strip()


def start(engine: Engine, argv: list[str], name: str, runner: Runner = run_command) -> None:
    """Remove a stopped container of the same name (an earlier `up`), then run."""
    existing = state(engine, name, runner)
    if existing is not None and existing["status"] != "running":
        runner([engine.client, "rm", "--force", name], None)
    done = runner(argv, None)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        hint = ("another process holds the port: --port HOST_PORT picks another"
                if "address already in use" in message or "port is already allocated" in message else
                "the engine's message says why")
        runner([engine.client, "rm", "--force", name], None)
        raise EngineError(f"cannot start {name}: {message}", hint)


def health(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(url: str, alive: Callable[[], bool], timeout: float,
                 tick: Callable[[float], None] = lambda elapsed: None, interval: float = 0.5) -> float | None:
    """Seconds until `url` answered 200; None when the container died or `timeout` passed first."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < timeout:
        tick(elapsed)
        if health(url):
            return time.monotonic() - started
        if not alive():
            return None
        time.sleep(interval)
    return None


def model_ids(base_url: str) -> list[str]:
    """The ids /v1/models lists (what the OpenAI client calls `model`)."""
    try:
        with urllib.request.urlopen(f"{base_url}/v1/models", timeout=10) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return []
    return sorted(str(item.get("id")) for item in data.get("data", []) if isinstance(item, dict))


def stop(engine: Engine, name: str, grace: int, runner: Runner = run_command) -> float:
    """Stop within `grace` seconds (then the engine kills it) and remove the container; seconds taken."""
    started = time.monotonic()
    done = runner([engine.client, "stop", "--time", str(grace), name], None)
    if done.returncode != 0:
        raise EngineError(f"cannot stop {name}: {done.stderr.strip()}")
    seconds = time.monotonic() - started
    runner([engine.client, "rm", "--force", name], None)
    return seconds
