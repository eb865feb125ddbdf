"""The pieces every doctor module shares: a check's result, and `Host`, doctor's only window on the machine.

Every field of `Host` (commands, files, the environment, the network) can be replaced, so tests drive
doctor from recorded outputs of nvidia-smi, rocminfo, docker and podman.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import importlib
import os
import shutil
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dockyard.engine.detect import Runner, docker_candidates, run_command
from dockyard.knowledge import pypi

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class Check:
    """One finding: `detail` says what was found, `fix` what to do (for warn and fail)."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    group: str = "engine"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "group": self.group, "status": self.status, "detail": self.detail,
                "fix": self.fix}


@dataclass(frozen=True)
class TlsProbe:
    """A TLS handshake with a public host: reachable, and whether only the local CA bundle trusts it."""

    reachable: bool
    intercepted: bool | None = None  # None: could not tell (no public CA bundle to compare with)
    error: str = ""


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def disk_free(path: str) -> tuple[int, int] | None:
    """(free, total) bytes of the file system holding `path` (or its nearest existing parent)."""
    probe = path or "/"
    while not os.path.exists(probe) and probe != "/":
        probe = os.path.dirname(probe.rstrip("/")) or "/"
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return None
    return usage.free, usage.total


def tcp_connect(host: str, port: int, timeout: float) -> str:
    """"" when a TCP connection opens, otherwise the reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ""
    except OSError as exc:
        return str(exc) or type(exc).__name__


def public_cafile() -> str | None:
    """certifi's Mozilla bundle: the public CAs, independent of the system store a proxy's CA is added to."""
    try:
        certifi = importlib.import_module("certifi")
    except ImportError:
        return None
    where = getattr(certifi, "where", None)
    return str(where()) if callable(where) else None


def _handshake(host: str, context: ssl.SSLContext, timeout: float) -> None:
    with socket.create_connection((host, 443), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=host):
        pass


def tls_probe(host: str, timeout: float) -> TlsProbe:
    """Handshake with the system's trust store, then with the public one: a proxy that re-signs TLS
    passes the first (its CA was added locally) and fails the second."""
    try:
        _handshake(host, ssl.create_default_context(), timeout)
    except ssl.SSLCertVerificationError as exc:
        return TlsProbe(True, None, f"the local CA bundle does not trust {host}: {exc.verify_message}")
    except OSError as exc:
        return TlsProbe(False, None, str(exc) or type(exc).__name__)
    cafile = public_cafile()
    if cafile is None:
        return TlsProbe(True, None)
    try:
        _handshake(host, ssl.create_default_context(cafile=cafile), timeout)
    except ssl.SSLCertVerificationError:
        return TlsProbe(True, True)
    except OSError as exc:
        return TlsProbe(True, None, str(exc))
    return TlsProbe(True, False)


def project_or_error(name: str, timeout: float) -> dict[str, Any] | str:
    try:
        return pypi.project(name, timeout)
    except pypi.IndexUnavailable as exc:
        return str(exc)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class Host:
    """Every way doctor looks at the machine. Tests replace fields with recorded answers."""

    run: Runner = run_command
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    read: Callable[[str], str | None] = read_text
    exists: Callable[[str], bool] = os.path.exists
    which: Callable[[str], str | None] = shutil.which
    glob: Callable[[str], list[str]] = globmod.glob
    disk: Callable[[str], tuple[int, int] | None] = disk_free
    connect: Callable[[str, int, float], str] = tcp_connect
    tls: Callable[[str, float], TlsProbe] = tls_probe
    cpu_count: Callable[[], int] = cpu_count
    docker_paths: Callable[[Runner], list[str]] = docker_candidates
    index: Callable[[str, float], dict[str, Any] | str] = project_or_error  # PyPI's JSON of a project, or why not
    today: Callable[[], dt.date] = dt.date.today
    network: bool = True
    timeout: float = 3.0


def memory_and_cores(host: Host) -> tuple[int, bool, int]:
    """Usable memory in bytes (physical, or the cgroup limit when smaller), whether a cgroup limited it,
    and usable cores (CPU affinity, then the cgroup v2 or v1 CPU quota)."""
    mem = 0
    for line in (host.read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    limited = False
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = (host.read(path) or "").strip()
        if text.isdigit() and 0 < int(text) < (mem or 1 << 62):
            mem, limited = int(text), True
            break
    cores = max(1, host.cpu_count())
    quota = _cpu_quota(host)
    if quota:
        cores = max(1, min(cores, quota))
    return mem, limited, cores


def _cpu_quota(host: Host) -> int:
    v2 = (host.read("/sys/fs/cgroup/cpu.max") or "").split()
    if len(v2) == 2 and v2[0].isdigit() and v2[1].isdigit() and int(v2[1]) > 0:
        return int(v2[0]) // int(v2[1])
    v1_quota = (host.read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or "").strip()
    v1_period = (host.read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") or "").strip()
    if v1_quota.isdigit() and v1_period.isdigit() and int(v1_period) > 0:
        return int(v1_quota) // int(v1_period)
    return 0
