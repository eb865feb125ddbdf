"""Run a serve image on this machine (`dockyard up` / `down`): the container as the image's user on a
read-only root with a tmpfs /tmp, a named volume for the Hugging Face cache, no capabilities, the
target's devices (knowledge/deploy.toml), the port on loopback; wait for /health; stop within the
grace period. A `hub:` model fetched at start is first downloaded by the same image run with the download
command into a named volume (skipped when the volume holds it), which the server mounts read-only. The
engine is docker or podman (their `run` flags are the same here).

What `up` creates carries dockyard's labels (deploy/ownership.py): a container or volume of the same
name that does not carry them for this spec is never stopped, removed or reused."""

from __future__ import annotations

import grp
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dockyard.deploy import fetch, ownership
from dockyard.deploy.binding import LOOPBACK, publish_spec
from dockyard.deploy.model import Deployment
from dockyard.deploy.ownership import Owner
from dockyard.engine.backends import podman_ulimits
from dockyard.engine.detect import Engine, Runner, run_command
from dockyard.errors import EngineError, InputError

# Engine flags for a compose device reservation driver (knowledge/deploy.toml `reservation`).
RESERVATION_FLAGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("nvidia", "docker"): ("--gpus", "{count}"),
    ("nvidia", "podman"): ("--device", "nvidia.com/gpu=all"),
}
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")  # what docker and podman accept


@dataclass(frozen=True)
class LocalOptions:
    host_port: int | None = None  # default: the serve port
    bind: str = LOOPBACK  # an IP address (deploy/binding.py checks it)
    model_dir: str | None = None  # host folder of a mount: model, absolute
    name: str | None = None  # container name; default dockyard-NAME


@dataclass(frozen=True)
class Found:
    """A container or volume of the name asked for, and who made it."""

    status: str  # a container's state ("running", "exited", "created" ...); "" for a volume
    image: str
    owner: Owner


def container_name(deployment: Deployment, options: LocalOptions) -> str:
    name = options.name or f"dockyard-{deployment.name}"
    if not CONTAINER_NAME.match(name):
        raise InputError(f"--name {name!r}: not a container name (letters, digits and '_.-', starting with a letter "
                         "or digit, at most 128 characters)", f"e.g. --name dockyard-{deployment.name}-2")
    return name


def cache_volume(deployment: Deployment, options: LocalOptions) -> str:
    """The cache volume belongs to the container: `NAME-hf-cache`."""
    return f"{container_name(deployment, options)}-hf-cache"


def model_volume(deployment: Deployment, options: LocalOptions) -> str:
    """The volume a model fetched at start lives in: `NAME-model` (kept by `down`, removed by `--volumes`)."""
    return f"{container_name(deployment, options)}-model"


def volumes(deployment: Deployment, options: LocalOptions) -> list[str]:
    """Every volume `up` makes for this deployment."""
    return [cache_volume(deployment, options), *([model_volume(deployment, options)]
                                                 if fetch.fetches(deployment) else [])]


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


def run_options(deployment: Deployment, options: LocalOptions) -> dict[str, str]:
    """What makes two runs of the same spec the same container (recorded in its labels)."""
    listen = (f"host network, port {deployment.port}" if deployment.devices.host_network
              else publish_spec(options.bind, host_port(deployment, options), deployment.port))
    return {"image": deployment.image, "publish": listen, "model-dir": options.model_dir or "",
            "accelerators": str(deployment.accelerators)}


def _hardened(deployment: Deployment, options: LocalOptions) -> list[str]:
    return ["--user", f"{deployment.uid}:{deployment.uid}", "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--mount", f"type=volume,source={cache_volume(deployment, options)},target={deployment.cache_dir}"]


def fetch_argv(engine: Engine, deployment: Deployment, options: LocalOptions, env_names: Sequence[str]) -> list[str]:
    """The one-shot container that downloads the model into its volume. `env_names`: variables handed
    through by name (HF_TOKEN, HF_ENDPOINT): their values come from this process's environment, never
    from the command line."""
    command = fetch.command(deployment)
    target = deployment.model.container_path
    argv = [engine.client, "run", "--rm", "--name", f"{container_name(deployment, options)}-fetch",
            *_hardened(deployment, options),
            "--mount", f"type=volume,source={model_volume(deployment, options)},target={target}",
            *[f"--label={k}={v}" for k, v in {**deployment.labels, **ownership.volume_labels(deployment)}.items()]]
    if engine.kind == "podman":
        argv += podman_ulimits()
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


def run_argv(engine: Engine, deployment: Deployment, options: LocalOptions, gids: Mapping[str, int],
             run: str = "") -> list[str]:
    facts = deployment.devices
    name = container_name(deployment, options)
    argv = [engine.client, "run", "--detach", "--name", name, *_hardened(deployment, options),
            "--stop-timeout", str(deployment.grace_seconds)]
    labels = {**deployment.labels, **ownership.container_labels(deployment, run_options(deployment, options), run)}
    argv += [f"--label={key}={value}" for key, value in labels.items()]
    if engine.kind == "podman":
        argv += podman_ulimits()
    if fetch.fetches(deployment):
        argv += ["--mount", f"type=volume,source={model_volume(deployment, options)},"
                 f"target={deployment.model.container_path},readonly=true"]
    if facts.shm:
        argv += ["--shm-size", facts.shm.replace("Gi", "g").replace("Mi", "m")]
    if facts.host_network:
        argv += ["--network", "host"]
    else:
        argv += ["--publish", publish_spec(options.bind, host_port(deployment, options), deployment.port)]
    if deployment.model.kind == "mount":
        if not options.model_dir:
            raise InputError(f"{deployment.source}: [serve].model = \"{deployment.model.spelled()}\" is mounted at run "
                             "time, and no folder was named", "add --model-dir HOST_DIR (the folder holding the "
                             "model's config.json)")
        argv += ["--mount", f"type=bind,source={options.model_dir},target={deployment.model.container_path},"
                 "readonly=true"]
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


def _inspect(engine: Engine, kind: str, name: str, runner: Runner) -> dict[str, object] | None:
    done = runner([engine.client, kind, "inspect", name], None)
    if done.returncode != 0:
        return None
    try:
        data = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None


def state(engine: Engine, name: str, runner: Runner = run_command) -> Found | None:
    """The container of that name and who made it, or None when there is none."""
    data = _inspect(engine, "container", name, runner)
    if data is None:
        return None
    config = data.get("Config") if isinstance(data.get("Config"), dict) else {}
    assert isinstance(config, dict)
    state_ = data.get("State") if isinstance(data.get("State"), dict) else {}
    assert isinstance(state_, dict)
    return Found(str(state_.get("Status", "")).lower(), str(config.get("Image", "")),
                 ownership.owner(config.get("Labels") or {}))


def volume_state(engine: Engine, name: str, runner: Runner = run_command) -> Found | None:
    data = _inspect(engine, "volume", name, runner)
    if data is None:
        return None
    labels = data.get("Labels")
    return Found("", "", ownership.owner(labels if isinstance(labels, dict) else {}))


def foreign(kind: str, name: str, found: Owner, deployment: Deployment) -> InputError:
    """A container or volume of that name that is not this spec's: left alone, and a way around it."""
    other = f"{name}-{deployment.spec_digest.split(':', 1)[-1][:8]}"
    return InputError(f"a {kind} named {name} exists and belongs to {found.describe()}, not to "
                      f"{ownership.spec_identity(deployment.source)}; dockyard leaves it as it is",
                      f"run this spec under a name of its own: --name {other} (give the same --name to "
                      "`dockyard down`)")


def claim_volume(engine: Engine, deployment: Deployment, options: LocalOptions, runner: Runner = run_command,
                 volume: str | None = None) -> None:
    """A volume (default: the cache volume), created with this spec's labels, or reused when it carries them."""
    name = volume or cache_volume(deployment, options)
    found = volume_state(engine, name, runner)
    if found is not None:
        if not ownership.owns(found.owner, deployment):
            raise foreign("volume", name, found.owner, deployment)
        return
    labels = [f"--label={k}={v}" for k, v in ownership.volume_labels(deployment).items()]
    done = runner([engine.client, "volume", "create", *labels, name], None)
    if done.returncode != 0:
        raise EngineError(f"cannot create the volume {name}: {_last_line(done.stderr) or done.returncode}")


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


def logs_tail(engine: Engine, name: str, lines: int = 25, runner: Runner = run_command) -> str:
    done = runner([engine.client, "logs", "--tail", str(lines), name], None)
    return (done.stdout + done.stderr).strip()


def start(engine: Engine, argv: list[str], name: str, deployment: Deployment, run: str,
          runner: Runner = run_command) -> None:
    """Run `argv`. A stopped container of the same name is removed first only when it is this spec's;
    a failed start removes only the container this run created (its run token)."""
    existing = state(engine, name, runner)
    if existing is not None:
        if not ownership.owns(existing.owner, deployment):
            raise foreign("container", name, existing.owner, deployment)
        if existing.status == "running":
            raise InputError(f"{name} is already running", f"stop it first: dockyard down {deployment.source}")
        runner([engine.client, "rm", "--force", name], None)
    done = runner(argv, None)
    if done.returncode != 0:
        message = _last_line(done.stderr) or f"exit {done.returncode}"
        hint = ("another process holds the port: --port HOST_PORT picks another"
                if "address already in use" in message or "port is already allocated" in message else
                "the engine's message says why")
        remove_own(engine, name, run, runner)
        raise EngineError(f"cannot start {name}: {message}", hint)


def remove_own(engine: Engine, name: str, run: str, runner: Runner = run_command) -> bool:
    """Remove the container of that name only when this run created it; True when it did."""
    found = state(engine, name, runner)
    if found is None or not run or found.owner.run != run:
        return False
    runner([engine.client, "rm", "--force", name], None)
    return True


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
