"""Backends: the engine commands for build, inspect, history, run, push, remove.

One protocol, two engines. Docker builds through `docker buildx build` when the client has buildx,
else through the client's own BuildKit support (`DOCKER_BUILDKIT=1`, clients before 23.0); podman
builds with Buildah. The argv builders are pure so tests can check them without an engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dockyard.engine.detect import Engine, Runner, run_command
from dockyard.engine.secrets import Secret
from dockyard.errors import EngineError


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    tags: tuple[str, ...]
    build_args: dict[str, str] = field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
    no_cache: bool = False
    platform: str = ""
    push: bool = False
    iidfile: Path | None = None
    builder: str = ""
    labels: tuple[tuple[str, str], ...] = ()  # set on the image over the Dockerfile's LABELs of the same key


@dataclass(frozen=True)
class Layer:
    created_by: str
    size: int


class Backend(Protocol):
    engine: Engine

    def build_argv(self, request: BuildRequest) -> list[str]: ...

    def build_env(self) -> dict[str, str]: ...

    def inspect(self, image: str) -> dict[str, Any] | None: ...

    def history(self, image: str) -> list[Layer]: ...

    def run_argv(self, image: str, command: Sequence[str], options: Sequence[str] = ()) -> list[str]: ...

    def push_argv(self, tag: str) -> list[str]: ...

    def remove(self, images: Sequence[str]) -> None: ...


def _common_build_flags(request: BuildRequest) -> list[str]:
    argv: list[str] = []
    for tag in request.tags:
        argv += ["--tag", tag]
    for key, value in sorted(request.build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    for secret in request.secrets:
        argv += ["--secret", f"id={secret.id},src={secret.path}"]
    for key, value in request.labels:
        argv += ["--label", f"{key}={value}"]
    if request.no_cache:
        argv.append("--no-cache")
    if request.platform:
        argv += ["--platform", request.platform]
    if request.iidfile:
        argv += ["--iidfile", str(request.iidfile)]
    return argv


def _size(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass
class _EngineCommands:
    """What docker and podman spell the same: inspect, run, push, remove."""

    engine: Engine
    runner: Runner = run_command

    def inspect(self, image: str) -> dict[str, Any] | None:
        done = self.runner([self.engine.client, "image", "inspect", image], None)
        if done.returncode != 0:
            return None
        data = json.loads(done.stdout)
        return data[0] if data else None

    def run_argv(self, image: str, command: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        return [self.engine.client, "run", "--rm", *options, image, *command]

    def push_argv(self, tag: str) -> list[str]:
        return [self.engine.client, "push", tag]

    def remove(self, images: Sequence[str]) -> None:
        if images:
            self.runner([self.engine.client, "image", "rm", "--force", *images], None)


@dataclass
class DockerBackend(_EngineCommands):
    def build_argv(self, request: BuildRequest) -> list[str]:
        client = self.engine.client
        if self.engine.mode == "buildx":
            argv = [client, "buildx", "build", "--progress=plain"]
            if request.builder:
                argv += ["--builder", request.builder]
            argv.append("--push" if request.push else "--load")
        else:
            argv = [client, "build", "--progress=plain"]
        return [*argv, *_common_build_flags(request), str(request.context)]

    def build_env(self) -> dict[str, str]:
        return dict(self.engine.env)

    def history(self, image: str) -> list[Layer]:
        done = self.runner([self.engine.client, "history", "--no-trunc", "--human=false", "--format",
                            "{{.Size}}\t{{.CreatedBy}}", image], None)
        if done.returncode != 0:
            raise EngineError(f"cannot read the history of {image}: {done.stderr.strip()}")
        layers = []
        for line in done.stdout.splitlines():
            size, _, created_by = line.partition("\t")
            layers.append(Layer(created_by, _size(size)))
        return list(reversed(layers))


@dataclass
class PodmanBackend(_EngineCommands):
    def build_argv(self, request: BuildRequest) -> list[str]:
        # The OCI image format has no health check: Buildah drops HEALTHCHECK unless it writes Docker's format
        docker_format = ["--format", "docker"] if _has_healthcheck(request.context) else []
        return [self.engine.client, "build", "--layers", *docker_format, *_common_build_flags(request),
                str(request.context)]

    def build_env(self) -> dict[str, str]:
        return {}

    def history(self, image: str) -> list[Layer]:
        done = self.runner([self.engine.client, "history", "--no-trunc", "--format", "json", image], None)
        if done.returncode != 0:
            raise EngineError(f"cannot read the history of {image}: {done.stderr.strip()}")
        rows = json.loads(done.stdout or "[]")
        layers = [Layer(row.get("CreatedBy", row.get("createdBy", "")), _size(row.get("size", row.get("Size"))))
                  for row in rows]
        return list(reversed(layers))

    def run_argv(self, image: str, command: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        return super().run_argv(image, command, [*podman_ulimits(), *options])


def _has_healthcheck(context: Path) -> bool:
    try:
        text = (context / "Dockerfile").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(line.startswith("HEALTHCHECK ") for line in text.splitlines())


def podman_ulimits() -> list[str]:
    """Podman 4 asks runc for open-file and process limits far above what a restricted host grants
    ("error setting rlimit type 7: operation not permitted"); ask for the limits this process has, and
    no more processes than the kernel's pid_max (seen refused above it)."""
    import resource

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text().strip())
    except (OSError, ValueError):
        pid_max = 32768
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def backend_for(engine: Engine, runner: Runner = run_command) -> Backend:
    if engine.kind == "podman":
        return PodmanBackend(engine, runner)
    return DockerBackend(engine, runner)


def gpu_run_options(engine: Engine, family: str) -> list[str]:
    """What `run` needs to hand the host's accelerator to a container."""
    if family == "cuda":
        return ["--device", "nvidia.com/gpu=all"] if engine.kind == "podman" else ["--gpus", "all"]
    if family == "rocm":
        return ["--device", "/dev/kfd", "--device", "/dev/dri", "--group-add", "video",
                "--security-opt", "seccomp=unconfined"]
    if family == "xpu":
        return ["--device", "/dev/dri"]
    if family == "tpu":
        return ["--privileged", "--net", "host"]
    return []
