"""compose.yaml for every target: the service's user, read-only root, health check, cache volume, grace
period, port, and each target's devices from knowledge/deploy.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.deploy.compose import ComposeOptions, render_compose
from dockyard.deploy.files import write_all
from dockyard.deploy.model import MARKER

from .conftest import MakeDeployment


def service(deployment: Any, options: ComposeOptions | None = None) -> dict[str, Any]:
    text = render_compose(deployment, options or ComposeOptions())["compose.yaml"]
    assert text.startswith(f"# {MARKER}")
    document = yaml.safe_load(text)
    assert document["volumes"] == {"hf-cache": {}}
    services: dict[str, Any] = document["services"]
    assert list(services) == ["tiny-chat"]
    return dict(services["tiny-chat"])


def test_cpu_service(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cpu")
    found = service(deployment)
    assert found["image"] == deployment.image and found["image"].startswith("dockyard/tiny-chat:")
    assert found["user"] == "1000:1000"
    assert found["read_only"] is True and found["tmpfs"] == ["/tmp"]
    assert found["cap_drop"] == ["ALL"] and found["security_opt"] == ["no-new-privileges:true"]
    assert found["volumes"] == [{"type": "volume", "source": "hf-cache", "target": "/home/dockyard/.cache/huggingface"}]
    assert found["ports"] == ["127.0.0.1:8000:8000"]
    assert found["stop_grace_period"] == "30s"
    test = found["healthcheck"]["test"]
    assert test[:3] == ["CMD", "/opt/venv/bin/python", "-c"] and "http://127.0.0.1:8000/health" in test[3]
    assert found["healthcheck"]["start_period"] == "600s"
    for key in ("devices", "group_add", "deploy", "privileged", "network_mode"):
        assert key not in found


DEVICES = {
    "cpu": {},
    "intel-cpu": {},
    "cuda": {"deploy": {"resources": {"reservations": {"devices": [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]}}}},
    "rocm": {"devices": ["/dev/kfd:/dev/kfd", "/dev/dri:/dev/dri"],
             "group_add": ["video", "${RENDER_GID:?set RENDER_GID to the GID of the host's render group: "
                                    "getent group render | cut -d: -f3}"]},
    "xpu": {"devices": ["/dev/dri:/dev/dri"],
            "group_add": ["${RENDER_GID:?set RENDER_GID to the GID of the host's render group: "
                          "getent group render | cut -d: -f3}"]},
    "tpu": {"privileged": True, "network_mode": "host"},
}


@pytest.mark.parametrize("target", sorted(DEVICES))
def test_devices_per_target(make_deployment: MakeDeployment, target: str) -> None:
    found = service(make_deployment(target))
    got = {k: found[k] for k in ("devices", "group_add", "deploy", "privileged", "network_mode") if k in found}
    assert got == DEVICES[target]
    assert ("ports" in found) == (target != "tpu"), "host networking publishes no ports"


def test_accelerator_count_and_options(make_deployment: MakeDeployment) -> None:
    found = service(make_deployment("cuda", accelerators=2, port=9000, grace_seconds=45),
                    ComposeOptions(bind="0.0.0.0", host_port=8080, start_seconds=120))
    assert found["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert found["ports"] == ["0.0.0.0:8080:9000"]
    assert found["stop_grace_period"] == "45s"
    assert "http://127.0.0.1:9000/health" in found["healthcheck"]["test"][3]
    assert found["healthcheck"]["start_period"] == "120s"


def test_mount_model(make_deployment: MakeDeployment) -> None:
    found = service(make_deployment("cpu", kind="mount"))
    assert found["volumes"][1] == {"type": "bind", "target": "/models/tiny", "read_only": True,
                                   "source": "${MODEL_DIR:?set MODEL_DIR to the host folder holding the model}"}
    found = service(make_deployment("cpu", kind="mount"), ComposeOptions(model_dir="/srv/a:b,c/cost$HOME"))
    assert found["volumes"][1]["source"] == "/srv/a:b,c/cost$$HOME", "one path, and $ escaped for compose"
    assert len(service(make_deployment("cpu", kind="hub"))["volumes"]) == 1, "a baked model mounts nothing"


@pytest.mark.parametrize("target", sorted(DEVICES))
def test_docker_compose_reads_it(make_deployment: MakeDeployment, target: str, tmp_path: Path) -> None:
    """docker-compose's own schema check (`config`, no daemon needed) accepts every target's file."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    write_all(tmp_path, render_compose(make_deployment(target, kind="mount")))
    env = {**os.environ, "RENDER_GID": "109", "MODEL_DIR": str(tmp_path)}
    done = subprocess.run(["docker-compose", "-f", str(tmp_path / "compose.yaml"), "config", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    unset = subprocess.run(["docker-compose", "-f", str(tmp_path / "compose.yaml"), "config", "--quiet"],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, timeout=60)
    assert unset.returncode != 0 and "set MODEL_DIR to the host folder" in unset.stderr


def test_deterministic(make_deployment: MakeDeployment) -> None:
    assert render_compose(make_deployment("rocm")) == render_compose(make_deployment("rocm"))


def test_fetch_at_start_service(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cuda", kind="hub", fetch="start")
    document = yaml.safe_load(render_compose(deployment)["compose.yaml"])
    assert document["volumes"] == {"hf-cache": {}, "model": {}}
    assert document["secrets"] == {"hf_token": {"file": "${HF_TOKEN_FILE:-/dev/null}"}}
    server, fetch = document["services"]["tiny-chat"], document["services"]["fetch-model"]
    assert server["depends_on"] == {"fetch-model": {"condition": "service_completed_successfully"}}
    assert {"type": "volume", "source": "model", "target": "/opt/model", "read_only": True} in server["volumes"]
    assert "secrets" not in server, "the token reaches the fetch step only"
    assert server["shm_size"] == "1gb"
    assert fetch["image"] == deployment.image and fetch["restart"] == "no"
    assert fetch["entrypoint"] == ["/opt/venv/bin/python", "/opt/dockyard/hub_model.py", "org/tiny", "a" * 40,
                                   "/opt/model"]
    assert fetch["volumes"] == [{"type": "volume", "source": "hf-cache", "target": "/home/dockyard/.cache/huggingface"},
                                {"type": "volume", "source": "model", "target": "/opt/model"}]
    assert fetch["secrets"] == ["hf_token"] and fetch["environment"] == {
        "HF_ENDPOINT": "${HF_ENDPOINT:-https://huggingface.co}"}
    assert fetch["read_only"] is True and fetch["cap_drop"] == ["ALL"] and fetch["user"] == "1000:1000"


def test_docker_compose_reads_the_fetch_service(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    write_all(tmp_path, render_compose(make_deployment("cpu", kind="hub", fetch="start")))
    done = subprocess.run(["docker-compose", "-f", str(tmp_path / "compose.yaml"), "config"],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, timeout=60)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["services"]["fetch-model"]["environment"] == {"HF_ENDPOINT": "https://huggingface.co"}
    assert config["secrets"]["hf_token"]["file"] == "/dev/null", "no token file: an anonymous download"
