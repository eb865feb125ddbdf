"""Gather what doctor needs to know about this machine, once, into `Facts`.

Gathering never raises for a broken engine or a missing tool: those are findings for the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.diagnose.gpu_facts import gather_gpu
from dockyard.diagnose.host import Host, TlsProbe, memory_and_cores
from dockyard.diagnose.knowledge_age import gather_knowledge
from dockyard.engine.detect import (
    BACKENDS,
    PODMAN_HINT_INSTALL,
    ClientProbe,
    Engine,
    Runner,
    detect,
    docker_engine,
    probe_docker,
)
from dockyard.engine.detect import podman_engine as engine_for_podman
from dockyard.errors import EngineError, InputError
from dockyard.hostsize import matrix_concurrency, max_jobs

REGISTRY_HOST = "registry-1.docker.io"
PYPI_HOST = "pypi.org"
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")


@dataclass
class Facts:
    """What doctor learned. `to_dict` is the `facts` part of `dockyard doctor --json`."""

    backend: str = "auto"
    docker: list[ClientProbe] = field(default_factory=list)
    docker_info: dict[str, Any] = field(default_factory=dict)
    podman_path: str | None = None
    podman: dict[str, Any] = field(default_factory=dict)
    podman_error: str = ""
    engine: Engine | None = None
    engine_error: EngineError | None = None
    disk: dict[str, Any] = field(default_factory=dict)
    registry_error: str | None = None  # None: not checked; "": reachable
    tls: TlsProbe | None = None
    proxies: dict[str, str] = field(default_factory=dict)
    ca_files: dict[str, str] = field(default_factory=dict)
    mem_bytes: int = 0
    mem_limited: bool = False
    cores: int = 1
    gpu: dict[str, Any] = field(default_factory=dict)
    knowledge: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "engine": None if self.engine is None else engine_dict(self.engine),
            "engine_error": None if self.engine_error is None else self.engine_error.message,
            "docker_clients": [client_dict(p) for p in self.docker],
            "podman": self.podman or None,
            "disk": self.disk,
            "registry": {"host": REGISTRY_HOST,
                         "reachable": None if self.registry_error is None else not self.registry_error,
                         "error": self.registry_error or None},
            "tls": None if self.tls is None else {"host": PYPI_HOST, "reachable": self.tls.reachable,
                                                  "intercepted": self.tls.intercepted},
            "proxies": self.proxies,
            "ca_files": self.ca_files,
            "host": {"mem_bytes": self.mem_bytes, "mem_limited_by_cgroup": self.mem_limited,
                     "cores": self.cores, "max_jobs": max_jobs(self.mem_bytes, self.cores),
                     "matrix_concurrency": matrix_concurrency(self.mem_bytes, self.cores)},
            "gpu": self.gpu,
            "knowledge": self.knowledge,
        }


def client_dict(probe: ClientProbe) -> dict[str, Any]:
    return {"path": probe.path, "client_version": probe.client_version,
            "server_version": probe.server_version or None, "buildx": probe.buildx_version or None,
            "mode": docker_engine(probe).mode if probe.server_version else None,
            "error": first_line(probe.server_error) or None}


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def capabilities_dict(engine: Engine) -> dict[str, bool]:
    caps = engine.capabilities
    return {name: bool(getattr(caps, name)) for name in
            ("buildkit", "cache_mounts", "secret_mounts", "bind_mounts", "named_contexts", "bake")}


def engine_dict(engine: Engine) -> dict[str, Any]:
    return {"kind": engine.kind, "client": engine.client, "client_version": engine.client_version,
            "server_version": engine.server_version, "mode": engine.mode, "data_root": engine.data_root,
            "capabilities": capabilities_dict(engine), "env": dict(engine.env)}


def mask_proxy(value: str) -> str:
    """Hide credentials in a proxy URL: http://user:pass@host:3128 -> http://***@host:3128."""
    if "@" not in value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def parse_json(text: str) -> dict[str, Any]:
    """The JSON object an engine printed (`--format '{{json .}}'` prints one line, podman info several)."""
    stripped = text.strip()
    for candidate in (stripped, stripped.splitlines()[0] if stripped else ""):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        return data if isinstance(data, dict) else {}
    return {}


def podman_engine(facts: Facts) -> Engine:
    """The podman engine from what doctor already read (the rules are build.engine's)."""
    if not facts.podman_path:
        raise EngineError("podman is not installed", PODMAN_HINT_INSTALL)
    if facts.podman_error or not facts.podman:
        raise EngineError(f"podman does not answer: {facts.podman_error or 'no version'}",
                          "check `podman info`; rootless podman needs subuid/subgid ranges for the user")
    return engine_for_podman(facts.podman_path, str(facts.podman["version"]), str(facts.podman.get("graph_root", "")))


def select_engine(facts: Facts, run: Runner, backend: str) -> Engine:
    """The engine `build.engine.detect(backend)` picks, from the clients doctor already found."""
    return detect(backend, run, docker_paths=[p.path for p in facts.docker], podman=lambda: podman_engine(facts),
                  podman_installed=bool(facts.podman_path))


def _gather_podman(host: Host, facts: Facts, path: str) -> None:
    version = host.run([path, "version", "--format", "{{json .}}"], None)
    if version.returncode != 0:
        facts.podman_error = first_line(version.stderr or version.stdout) or f"exit {version.returncode}"
        return
    client = parse_json(version.stdout).get("Client") or {}
    info = parse_json(host.run([path, "info", "--format", "json"], None).stdout)
    host_info = info.get("host") or {}
    store = info.get("store") or {}
    facts.podman = {
        "path": path,
        "version": str(client.get("Version", "")),
        "buildah_version": str(host_info.get("buildahVersion", "")),
        "graph_root": str(store.get("graphRoot", "")),
        "rootless": bool((host_info.get("security") or {}).get("rootless", False)),
    }


def gather(host: Host, backend: str = "auto") -> Facts:
    """Collect every fact the checks need. An unknown backend is the user's mistake (InputError)."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    facts = Facts(backend=backend)
    run = host.run
    facts.docker = [probe_docker(path, run) for path in host.docker_paths(run)]
    live = [p for p in facts.docker if p.server_version]
    if live:
        info = run([live[0].path, "info", "--format", "{{json .}}"], None)
        facts.docker_info = parse_json(info.stdout) if info.returncode == 0 else {}
    facts.podman_path = host.which("podman")
    if facts.podman_path:
        _gather_podman(host, facts, facts.podman_path)
    try:
        facts.engine = select_engine(facts, run, backend)
    except EngineError as exc:
        facts.engine_error = exc
    root = facts.engine.data_root if facts.engine else ""
    root = root or str(facts.docker_info.get("DockerRootDir") or facts.podman.get("graph_root") or "")
    if root:
        free_total = host.disk(root)
        facts.disk = {"path": root, "free_bytes": free_total[0] if free_total else None,
                      "total_bytes": free_total[1] if free_total else None}
    if host.network:
        facts.registry_error = host.connect(REGISTRY_HOST, 443, host.timeout)
        facts.tls = host.tls(PYPI_HOST, host.timeout)
    facts.proxies = {name: mask_proxy(host.env[name]) for name in PROXY_VARS if host.env.get(name)}
    for name in ("HttpProxy", "HttpsProxy", "NoProxy"):
        if facts.docker_info.get(name):
            facts.proxies[f"dockerd {name}"] = mask_proxy(str(facts.docker_info[name]))
    facts.ca_files = {name: host.env[name] for name in CA_VARS if host.env.get(name, "").startswith("/")}
    facts.mem_bytes, facts.mem_limited, facts.cores = memory_and_cores(host)
    facts.gpu = gather_gpu(host, facts.docker_info)
    facts.knowledge = gather_knowledge(host)
    return facts
