"""Find the container engine and what it can do.

Two docker clients may sit on one machine (a new client without the buildx plugin first on PATH, and
the distribution's older client that still builds with BuildKit through DOCKER_BUILDKIT=1), so every
candidate binary is probed instead of trusting PATH order. Podman (Buildah inside) is the daemonless
alternative. Detection runs commands through `Runner` so tests can feed recorded outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from dockyard.errors import EngineError, InputError

BACKENDS: tuple[str, ...] = ("auto", "docker", "podman")


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], dict[str, str] | None], Completed]


def run_command(argv: Sequence[str], env: dict[str, str] | None = None) -> Completed:
    """Run a short engine query; a missing binary or a hang is reported as a failed command."""
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, env=full_env)
    except FileNotFoundError as exc:
        return Completed(127, "", str(exc))
    except subprocess.TimeoutExpired:
        return Completed(124, "", f"{argv[0]} did not answer within 60 s")
    return Completed(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Capabilities:
    """What a build through this engine may use. Render and build consult it."""

    buildkit: bool
    cache_mounts: bool
    secret_mounts: bool
    bind_mounts: bool
    named_contexts: bool
    bake: bool
    push: bool = True
    locked_cache: bool = True  # RUN --mount=type=cache,sharing=locked works across steps

    def missing(self, needed: Sequence[str]) -> list[str]:
        return [name for name in needed if not getattr(self, name)]


@dataclass(frozen=True)
class Engine:
    kind: Literal["docker", "podman"]
    client: str
    client_version: str
    server_version: str
    mode: Literal["buildx", "buildkit-env", "legacy", "buildah"]
    capabilities: Capabilities
    env: dict[str, str] = field(default_factory=dict)
    data_root: str = ""
    builder: str = ""

    def describe(self) -> str:
        how = {
            "buildx": "docker buildx (BuildKit)",
            "buildkit-env": "BuildKit through DOCKER_BUILDKIT=1",
            "legacy": "the legacy builder (no BuildKit)",
            "buildah": "Buildah",
        }[self.mode]
        return f"{self.kind} {self.client_version} at {self.client}, server {self.server_version}, builds with {how}"


@dataclass(frozen=True)
class ClientProbe:
    path: str
    client_version: str = ""
    server_version: str = ""
    server_error: str = ""
    has_buildx: bool = False
    buildx_version: str = ""
    data_root: str = ""


DOCKER_HINT_INSTALL = (
    "install an engine: on Debian/Ubuntu as root `apt-get install -y docker.io` (then start `dockerd &`) "
    "or `apt-get install -y podman`; or run `bash scripts/setup.sh` from the dockyard checkout"
)
DOCKER_HINT_START = (
    "start the daemon: as root `dockerd >/var/log/dockerd.log 2>&1 &` (or `systemctl start docker`), then wait "
    "until `docker info` answers; or use `--backend podman`, which needs no daemon"
)


def docker_candidates(runner: Runner = run_command) -> list[str]:
    """Every docker client binary on this machine: those on PATH, then the distribution package's."""
    seen: dict[str, str] = {}
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / "docker"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            seen.setdefault(os.path.realpath(candidate), str(candidate))
    if shutil.which("dpkg"):
        listing = runner(["dpkg", "-L", "docker.io"], None)
        if listing.returncode == 0:
            for line in listing.stdout.splitlines():
                if line.endswith("bin/docker") and os.access(line, os.X_OK):
                    seen.setdefault(os.path.realpath(line), line)
    for fixed in ("/usr/bin/docker", "/usr/local/bin/docker"):
        if os.access(fixed, os.X_OK):
            seen.setdefault(os.path.realpath(fixed), fixed)
    return list(seen.values())


def probe_docker(path: str, runner: Runner = run_command) -> ClientProbe:
    version = runner([path, "version", "--format", "{{json .}}"], None)
    client_version = server_version = server_error = data_root = ""
    try:
        data = json.loads(version.stdout.strip().splitlines()[0]) if version.stdout.strip() else {}
    except (json.JSONDecodeError, IndexError):
        data = {}
    client_version = str((data.get("Client") or {}).get("Version", ""))
    server = data.get("Server") or {}
    server_version = str(server.get("Version", "")) if server else ""
    if version.returncode != 0 or not server_version:
        server_error = (version.stderr or version.stdout).strip()
    else:
        info = runner([path, "info", "--format", "{{.DockerRootDir}}"], None)
        data_root = info.stdout.strip() if info.returncode == 0 else ""
    buildx = runner([path, "buildx", "version"], None)
    has_buildx = buildx.returncode == 0
    return ClientProbe(
        path=path,
        client_version=client_version,
        server_version=server_version,
        server_error=server_error,
        has_buildx=has_buildx,
        buildx_version=buildx.stdout.strip() if has_buildx else "",
        data_root=data_root,
    )


def _major(version: str) -> int:
    try:
        return Version(version.split("+")[0].split("-")[0]).major
    except InvalidVersion:
        return 0


def docker_engine(probe: ClientProbe) -> Engine:
    """The build mode a probed docker client gives, best first."""
    if probe.has_buildx:
        caps = Capabilities(True, True, True, True, named_contexts=True, bake=True)
        return Engine("docker", probe.path, probe.client_version, probe.server_version, "buildx", caps,
                      data_root=probe.data_root)
    if 0 < _major(probe.client_version) < 23:
        # Clients before 23.0 carry BuildKit support themselves; named contexts, bake and `# syntax=`
        # frontends need buildx (and a registry for the frontend image).
        caps = Capabilities(True, True, True, True, named_contexts=False, bake=False)
        return Engine("docker", probe.path, probe.client_version, probe.server_version, "buildkit-env", caps,
                      env={"DOCKER_BUILDKIT": "1"}, data_root=probe.data_root)
    caps = Capabilities(False, False, False, False, named_contexts=False, bake=False)
    return Engine("docker", probe.path, probe.client_version, probe.server_version, "legacy", caps,
                  data_root=probe.data_root)


_MODE_RANK = {"buildx": 0, "buildkit-env": 1, "legacy": 2}


def detect_docker(runner: Runner = run_command, candidates: Sequence[str] | None = None) -> Engine:
    paths = list(candidates) if candidates is not None else docker_candidates(runner)
    if not paths:
        raise EngineError("no docker client found on this machine", DOCKER_HINT_INSTALL)
    probes = [probe_docker(path, runner) for path in paths]
    live = [p for p in probes if p.server_version]
    if not live:
        detail = probes[0].server_error.splitlines()[0] if probes[0].server_error else "no answer"
        raise EngineError(f"the docker daemon does not answer ({detail})", DOCKER_HINT_START)
    engines = sorted((docker_engine(p) for p in live), key=lambda e: _MODE_RANK[e.mode])
    return engines[0]


PODMAN_HINT_INSTALL = "as root: `apt-get install -y podman`"


def podman_capabilities(version: str) -> Capabilities:
    """Buildah (podman build) supports RUN --mount cache/secret/bind from podman 4.0; named build contexts
    are counted from podman 4.5 (Buildah 1.30), although 4.3.1 was seen accepting --build-context; no bake.
    A cache mounted `sharing=locked` by one step and again by a later step of the same build hangs the
    build forever (podman 4.3.1, Buildah 1.28, seen here: both steps wait on the lock), so podman builds
    share caches unlocked."""
    parsed = _version_or_zero(version)
    mounts = parsed >= Version("4.0")
    return Capabilities(buildkit=False, cache_mounts=mounts, secret_mounts=mounts, bind_mounts=mounts,
                        named_contexts=parsed >= Version("4.5"), bake=False, locked_cache=False)


def podman_engine(path: str, version: str, data_root: str = "") -> Engine:
    return Engine("podman", path, version, version, "buildah", podman_capabilities(version), data_root=data_root)


def detect_podman(runner: Runner = run_command, path: str | None = None) -> Engine:
    path = path or shutil.which("podman")
    if not path:
        raise EngineError("podman is not installed", PODMAN_HINT_INSTALL)
    version = runner([path, "version", "--format", "{{json .}}"], None)
    if version.returncode != 0:
        raise EngineError(f"podman does not answer: {(version.stderr or version.stdout).strip()}",
                          "check `podman info`; rootless podman needs subuid/subgid ranges for the user")
    try:
        data = json.loads(version.stdout)
    except json.JSONDecodeError:
        data = {}
    client = str((data.get("Client") or {}).get("Version", ""))
    info = runner([path, "info", "--format", "{{.Store.GraphRoot}}"], None)
    return podman_engine(path, client, info.stdout.strip() if info.returncode == 0 else "")


def _version_or_zero(text: str) -> Version:
    try:
        return Version(text.split("-")[0])
    except InvalidVersion:
        return Version("0")


PodmanFinder = Callable[[], Engine]


def detect(backend: str = "auto", runner: Runner = run_command, docker_paths: Sequence[str] | None = None,
           podman: PodmanFinder | None = None, podman_installed: bool | None = None) -> Engine:
    """The engine to build with. `auto` prefers docker with BuildKit, then podman. Doctor passes the
    clients it already found (`docker_paths`, `podman`) so both apply the same rules."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    find_podman = podman or (lambda: detect_podman(runner))
    if backend == "docker":
        return detect_docker(runner, docker_paths)
    if backend == "podman":
        return find_podman()
    errors: list[EngineError] = []
    try:
        engine = detect_docker(runner, docker_paths)
        if engine.capabilities.buildkit:
            return engine
        errors.append(EngineError(f"docker at {engine.client} has no BuildKit"))
    except EngineError as exc:
        errors.append(exc)
    if podman_installed if podman_installed is not None else shutil.which("podman"):
        try:
            return find_podman()
        except EngineError as exc:
            errors.append(exc)
    first = errors[0]
    raise EngineError(first.message, first.hint or DOCKER_HINT_INSTALL)
