"""A recorded machine for doctor tests: commands answer from fixtures, files and devices are a dict."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.diagnose.doctor import Host, TlsProbe
from dockyard.engine.detect import Completed

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
LOGS = HERE / "logs"
GIB = 1024**3
JSON_FORMAT = ("--format", "{{json .}}")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class Machine:
    commands: dict[tuple[str, ...], Completed] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)
    docker: list[str] = field(default_factory=list)
    disk: tuple[int, int] | None = (200 * GIB, 500 * GIB)
    registry_error: str = "[Errno -2] Name or service not known"
    tls: TlsProbe = field(default_factory=lambda: TlsProbe(True, False))
    cores: int = 2
    network: bool = True
    calls: list[tuple[str, ...]] = field(default_factory=list)
    index: dict[str, dict[str, Any]] = field(default_factory=dict)  # recorded PyPI answers; others fail
    today: dt.date = dt.date(2026, 12, 7)

    def ask_index(self, name: str, timeout: float) -> dict[str, Any] | str:
        return self.index.get(name) or f"https://pypi.org/pypi/{name}/json: not recorded"

    def answer(self, argv: Sequence[str], output: str, code: int = 0, stderr: str = "") -> None:
        self.commands[tuple(argv)] = Completed(code, output, stderr)

    def run(self, argv: Sequence[str], env: dict[str, str] | None = None) -> Completed:
        self.calls.append(tuple(argv))
        return self.commands.get(tuple(argv), Completed(127, "", f"{argv[0]}: not recorded"))

    def exists(self, path: str) -> bool:
        return path in self.devices or path in self.files

    def glob(self, pattern: str) -> list[str]:
        return sorted(p for p in self.devices | set(self.files) if fnmatch.fnmatch(p, pattern))

    def host(self) -> Host:
        return Host(
            run=self.run, env=self.env, read=self.files.get, exists=self.exists, which=self.programs.get,
            glob=self.glob, disk=lambda path: self.disk, connect=lambda h, p, t: self.registry_error,
            tls=lambda h, t: self.tls, cpu_count=lambda: self.cores, docker_paths=lambda run: list(self.docker),
            network=self.network, index=self.ask_index, today=lambda: self.today,
        )


def meminfo(gib: int) -> str:
    return f"MemTotal:       {gib * 1024 * 1024} kB\nMemFree:        {gib * 1024 * 1000} kB\n"


def add_docker(machine: Machine, path: str, version_json: str, *, buildx: str = "", info_json: str = "",
               down_stderr: str = "") -> None:
    machine.docker.append(path)
    machine.answer([path, "version", *JSON_FORMAT], version_json, 1 if down_stderr else 0, down_stderr)
    if info_json:
        root = json.loads(info_json).get("DockerRootDir", "")
        machine.answer([path, "info", "--format", "{{.DockerRootDir}}"], f"{root}\n")
        machine.answer([path, "info", *JSON_FORMAT], info_json)
    if buildx:
        machine.answer([path, "buildx", "version"], buildx)
    else:
        machine.answer([path, "buildx", "version"], "", 1, f"{path}: 'buildx' is not a docker command.")


def add_podman(machine: Machine, path: str = "/usr/bin/podman") -> None:
    machine.programs["podman"] = path
    machine.answer([path, "version", *JSON_FORMAT], fixture("podman_version_here.json"))
    machine.answer([path, "info", "--format", "json"], fixture("podman_info_here.json"))


def this_machine() -> Machine:
    """This project's dev machine as recorded: two docker clients (28.x without buildx first on PATH,
    the docker.io 20.10 client), podman 4.3.1, no registry, TLS to PyPI intercepted, 2 cores, 24 GiB."""
    machine = Machine(env={"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
                           "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"},
                      files={"/proc/meminfo": meminfo(24)}, tls=TlsProbe(True, True))
    info = fixture("docker_info_here.json")
    add_docker(machine, "/usr/local/bin/docker", fixture("docker_version_here_28.json"), info_json=info)
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_here.json"), info_json=info)
    add_podman(machine)
    return machine


def gpu_machine(query: str, smi: str, *, query_code: int = 0, smi_code: int = 0) -> Machine:
    """A GPU host: docker 27 with buildx and the nvidia runtime, nvidia-smi answering from fixtures
    (`query`: the --query-gpu output file, `smi`: the plain nvidia-smi output file)."""
    machine = Machine(files={"/proc/meminfo": meminfo(2015)}, cores=96, registry_error="")
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_gpu.json"),
               buildx=fixture("buildx_version_gpu.txt"), info_json=fixture("docker_info_gpu.json"))
    machine.programs["nvidia-smi"] = "/usr/bin/nvidia-smi"
    machine.devices |= {"/dev/nvidiactl", "/dev/nvidia0"}
    smi_path = "/usr/bin/nvidia-smi"
    machine.answer([smi_path, "--query-gpu=driver_version,compute_cap,name", "--format=csv,noheader"],
                   fixture(query), query_code)
    machine.answer([smi_path], fixture(smi), smi_code)
    return machine
