"""`dockyard doctor --json` on this machine, for real, checked against the engines' own answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from dockyard.hostsize import matrix_concurrency, max_jobs

pytestmark = pytest.mark.engine


def ask(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return result.stdout.strip() if result.returncode == 0 else ""


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not (shutil.which("docker") or shutil.which("podman")):
        pytest.skip("no docker or podman on this machine")
    result = subprocess.run([sys.executable, "-c", "import sys; from dockyard.cli import main; sys.exit(main())",
                             "doctor", "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["ok"] is (result.returncode == 0)
    return data


def test_docker_clients_match_docker_itself(report: dict[str, Any]) -> None:
    clients = report["facts"]["docker_clients"]
    if not shutil.which("docker"):
        assert clients == []
        return
    assert clients
    for client in clients:
        assert client["client_version"] == ask([client["path"], "version", "--format", "{{.Client.Version}}"])
        server = ask([client["path"], "version", "--format", "{{.Server.Version}}"])
        assert (client["server_version"] or "") == server
        assert (client["buildx"] is not None) == bool(ask([client["path"], "buildx", "version"]))


def test_engine_is_consistent(report: dict[str, Any]) -> None:
    facts, checks = report["facts"], {c["name"]: c for c in report["checks"]}
    engine = facts["engine"]
    assert (engine is not None) == (checks["engine"]["status"] == "ok")
    if engine is None:
        assert facts["engine_error"]
        return
    caps = engine["capabilities"]
    if engine["kind"] == "docker":
        assert engine["client"] in [c["path"] for c in facts["docker_clients"]]
        assert engine["mode"] in ("buildx", "buildkit-env", "legacy")
        assert caps["buildkit"] is (engine["mode"] != "legacy")
        assert caps["bake"] is (engine["mode"] == "buildx")
        if engine["mode"] == "buildkit-env":
            assert engine["env"] == {"DOCKER_BUILDKIT": "1"}
        assert engine["data_root"] == ask([engine["client"], "info", "--format", "{{.DockerRootDir}}"])
    else:
        assert engine["client_version"] == ask([engine["client"], "version", "--format", "{{.Client.Version}}"])


def test_podman_facts(report: dict[str, Any]) -> None:
    podman = shutil.which("podman")
    if not podman:
        assert report["facts"]["podman"] is None
        return
    facts = report["facts"]["podman"]
    assert facts["version"] == ask([podman, "version", "--format", "{{.Client.Version}}"])
    assert facts["graph_root"] == ask([podman, "info", "--format", "{{.Store.GraphRoot}}"])


def test_host_facts(report: dict[str, Any]) -> None:
    host, disk = report["facts"]["host"], report["facts"]["disk"]
    assert 1 <= host["cores"] <= (os.cpu_count() or 1)
    assert host["mem_bytes"] > 0
    assert host["max_jobs"] == max_jobs(host["mem_bytes"], host["cores"])
    assert host["matrix_concurrency"] == matrix_concurrency(host["mem_bytes"], host["cores"])
    if disk:
        assert os.path.exists(disk["path"]) and disk["free_bytes"] > 0
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["registry"] in ("ok", "warn") and statuses["proxy-ca"] in ("ok", "warn", "fail")
    if not shutil.which("nvidia-smi") and not os.path.exists("/dev/nvidiactl"):
        assert statuses["nvidia-driver"] == "skip"
