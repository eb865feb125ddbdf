"""`dockyard verify --host` and scripts/device-check.sh in a real Python environment with torch and
transformers (torch's CPU wheel from the local wheelhouse, the rest from PyPI, installed with uv), on
this machine without a GPU. Slow (a 900 MB environment), so it sits with the engine tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from dockyard.engine.detect import Engine
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

REPO = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"
# The environment holds the transformers release the cpu-inference preset resolves to, so verifying the
# host against that preset passes whenever the knowledge moves to a newer release.
TRANSFORMERS = resolve(load("cpu-inference")).transformers.version or ""
PACKAGES = (TORCH, f"transformers=={TRANSFORMERS}", "packaging", "rich", "dockerfile")


@pytest.fixture(scope="module")
def torch_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    uv = shutil.which("uv") or str(REPO / ".venv" / "bin" / "uv")
    wheelhouse = (os.environ.get("PIP_FIND_LINKS") or "").split(" ")[0]
    if not wheelhouse or not list(Path(wheelhouse).glob("torch-2.13.0*.whl")):
        if os.environ.get("DOCKYARD_ENGINE_TESTS") == "require":
            pytest.fail("no torch 2.13.0 wheel in $PIP_FIND_LINKS")
        pytest.skip("no torch 2.13.0 wheel in $PIP_FIND_LINKS")
    folder = tmp_path_factory.mktemp("hostenv") / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([uv, "venv", "-q", "-p", str(REPO / ".venv" / "bin" / "python"), str(folder)], check=True, env=env)
    subprocess.run([uv, "pip", "install", "-q", "--native-tls", "--python", str(folder / "bin" / "python"),
                    "--find-links", wheelhouse, *PACKAGES], check=True, env=env, timeout=900)
    return str(folder / "bin" / "python")


def dockyard(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([python, "-m", "dockyard.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_verify_host_report_mode_on_cpu(torch_python: str) -> None:
    done = dockyard(torch_python, "verify", "--host", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    found = {c["name"]: c for c in report["checks"]}
    assert report["mode"] == "report"
    assert found["torch build"]["actual"] == "cpu"
    assert found["import transformers"]["actual"] == TRANSFORMERS
    assert found["tiny model forward and generate"]["ok"]
    assert found["GPU visible"]["detail"] == "no GPU: torch is a CPU build"
    assert report["facts"]["gpu"]["backend"] == "cpu" and report["facts"]["installed"]["torch"] == "2.13.0+cpu"


def test_verify_host_against_presets(torch_python: str) -> None:
    done = dockyard(torch_python, "verify", "--host", "--spec", "cpu-inference")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify --host" in done.stdout and "probes passed" in done.stdout
    done = dockyard(torch_python, "verify", "--host", "--spec", "transformers-pytorch-gpu", "--json")
    assert done.returncode == 1
    failed = {c["name"]: c for c in json.loads(done.stdout)["checks"] if not c["ok"]}
    assert failed["torch build"]["actual"] == "cpu" and failed["torch build"]["expected"].startswith("cuda")
    assert failed["GPU visible"]["expected"] == "cuda"


def test_device_check_with_torch_and_no_gpu(torch_python: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(["bash", str(REPO / "scripts" / "device-check.sh"), str(tmp_path / "out")],
                          env={**env, "PYTHON": torch_python}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "out" / "summary.txt").read_text().splitlines()
    assert summary[0] == "no GPU: torch is a CPU build"
    assert summary[1] == "torch 2.13.0+cpu: cuda None, hip None; driver: none"
    probe = json.loads((tmp_path / "out" / "host_probe.json").read_text())
    assert all(c["ok"] for c in probe["checks"]), probe["checks"]


BASE = "dockyard/bookworm-python:3.11"  # scripts/setup.sh makes it: Debian's python3, no pip, no torch


def test_probe_and_device_check_in_a_bare_container(docker: Engine, tmp_path: Path) -> None:
    """Inside a running container with nothing but Debian's python3: the probe file alone reports that
    torch is missing, and device-check.sh runs to the end (doctor skipped: no packaging, no pip)."""
    if subprocess.run([docker.client, "image", "inspect", BASE], capture_output=True).returncode != 0:
        pytest.skip(f"{BASE} is not in docker (scripts/setup.sh makes it)")
    out = tmp_path / "out"
    out.mkdir()
    name = f"dockyard-test-host-{uuid.uuid4().hex[:8]}"
    done = subprocess.run([docker.client, "run", "--rm", "--name", name, "-v", f"{REPO}:/repo:ro", "-v", f"{out}:/out",
                           "-e", "PYTHON=python3", BASE, "bash", "/repo/scripts/device-check.sh", "/out"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text()
    assert summary.splitlines()[0] == "no GPU probes: torch is not installed in this environment"
    assert "doctor\tskipped: python3 has no packaging module and no pip" in summary
    probe = json.loads((out / "host_probe.json").read_text())
    assert probe["facts"]["mode"] == "report" and all(c["ok"] for c in probe["checks"]), probe["checks"]


def test_probe_host_mode_inside_a_running_dockyard_container(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    """A cpu-inference image, then the probe it carries run in host mode against the plan it carries,
    inside a container of it, as its own user: what `docker exec ... probe.py --host` gives a user."""
    tag = f"dockyard-test/host-{uuid.uuid4().hex[:8]}:docker"
    images.append((docker.client, tag))
    built = cli(["build", "cpu-inference", "--backend", "docker", "--tag", tag, "--no-verify", "--no-sbom",
                 "--log", str(tmp_path / "build.log"), "--json"])
    assert built.code == 0, built.err
    done = subprocess.run([docker.client, "run", "--rm", "--name", f"dockyard-test-host-{uuid.uuid4().hex[:8]}",
                           "--entrypoint", "python", tag, "/opt/dockyard/probe.py", "--host", "--plan",
                           "/opt/dockyard/plan.json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    found = {c["name"]: c for c in report["checks"]}
    assert report["facts"]["mode"] == "plan"
    assert found["runs as non-root"]["actual"] == 1000 and found["tiny model forward and generate"]["ok"]
    assert found["GPU visible"] == {"name": "GPU visible", "ok": True, "expected": None, "actual": 0,
                                    "detail": "no GPU: torch is a CPU build"}
    assert "no secret files" not in found, "host mode leaves secrets to `verify IMAGE`"
