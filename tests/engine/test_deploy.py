"""The deploy side of serve images, for real (issue 10): `dockyard up` builds a tiny local model's serve
image, runs it read-only as its user, waits for /health and is talked to with the official OpenAI client;
`dockyard down` stops it within its grace period; an image that never gets healthy fails with its last
log lines; the compose file `dockyard deploy --to compose` writes is run by docker-compose until healthy,
answers a chat completion, and goes down.

The model is made in the test without network (tests/engine/tinymodel.py)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.detect import Engine

from .tinymodel import make_tiny_llama

NAME = "dockyard-test-deploy"
SPEC = """[image]
extends = "cpu-serve"
name = "{name}"

[serve]
model = "{model}"
grace-seconds = 10
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def inspect(client: str, kind: str, name: str) -> dict[str, Any] | None:
    done = subprocess.run([client, kind, "inspect", name], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    data: list[dict[str, Any]] = json.loads(done.stdout)
    return data[0]


def image_tags(client: str, name: str) -> list[str]:
    done = subprocess.run([client, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"dockyard/{name}"],
                          capture_output=True, text=True)
    return done.stdout.split()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, docker: Engine) -> Iterator[Path]:
    """A spec serving a tiny local Llama; its image is removed before (so `up` builds it) and after."""
    folder = tmp_path_factory.mktemp("serve")
    make_tiny_llama(folder / "model")
    spec = folder / "spec.toml"
    spec.write_text(SPEC.format(name=NAME, model="path:model"))
    subprocess.run([docker.client, "image", "rm", "--force", *image_tags(docker.client, NAME)], capture_output=True)
    yield spec
    subprocess.run([docker.client, "rm", "--force", f"dockyard-{NAME}"], capture_output=True)
    subprocess.run([docker.client, "volume", "rm", "--force", f"dockyard-{NAME}-hf-cache"], capture_output=True)
    subprocess.run([docker.client, "image", "rm", "--force", *image_tags(docker.client, NAME)], capture_output=True)


def test_up_talk_down(cli, docker: Engine, served: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    up = cli(["up", str(served), "--backend", "docker", "--port", str(port), "--progress", "plain"])
    assert up.code == 0, up.err
    assert "is missing: building it" in up.err, "up builds a missing image through the pipeline"
    assert f"up http://127.0.0.1:{port}" in up.out and "from openai import OpenAI" in up.out
    assert "waiting for" in up.err, "progress while the model loads"

    container = inspect(docker.client, "container", f"dockyard-{NAME}")
    assert container is not None
    assert container["Config"]["User"] == "1000:1000"
    assert container["HostConfig"]["ReadonlyRootfs"] is True
    assert container["HostConfig"]["CapDrop"] == ["ALL"]
    assert container["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

    from openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    assert [model.id for model in client.models.list()] == ["/opt/model"]
    reply = client.chat.completions.create(model="/opt/model", max_tokens=8,
                                           messages=[{"role": "user", "content": "Hello!"}])
    assert reply.choices[0].finish_reason in ("stop", "length") and reply.choices[0].message.content is not None

    again = cli(["up", str(served), "--backend", "docker", "--port", str(port), "--progress", "plain"])
    assert again.code == 0 and "already up" in again.err, "up is idempotent"

    started = time.monotonic()
    down = cli(["down", str(served), "--backend", "docker", "--volumes"])
    assert down.code == 0, down.err
    assert time.monotonic() - started < 10 + 5, "stopped within the 10 s grace period"
    assert inspect(docker.client, "container", f"dockyard-{NAME}") is None
    assert inspect(docker.client, "volume", f"dockyard-{NAME}-hf-cache") is None
    assert "nothing to stop" in cli(["down", str(served), "--backend", "docker"]).err


def test_never_healthy_shows_the_logs(cli, docker: Engine, served: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A mount: model whose folder holds no model: the server exits; up says so with its last log lines."""
    spec = tmp_path / "mount.toml"
    spec.write_text(SPEC.format(name=f"{NAME}-mount", model="mount:/models/tiny"))
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        result = cli(["up", str(spec), "--backend", "docker", "--port", str(free_port()), "--model-dir", str(empty),
                      "--timeout", "120", "--progress", "plain"])
        assert result.code == 1, result.err
        assert f"dockyard-{NAME}-mount exited; its last log lines:" in result.err
        assert "Traceback" not in result.err.split("its last log lines:")[0]
        assert "/models/tiny" in result.err, "the server's own complaint about the missing model is shown"
        assert inspect(docker.client, "container", f"dockyard-{NAME}-mount") is None, "the failed container is removed"
    finally:
        subprocess.run([docker.client, "rm", "--force", f"dockyard-{NAME}-mount"], capture_output=True)
        subprocess.run([docker.client, "volume", "rm", "--force", f"dockyard-{NAME}-mount-hf-cache"],
                       capture_output=True)
        subprocess.run([docker.client, "image", "rm", "--force", *image_tags(docker.client, f"{NAME}-mount")],
                       capture_output=True)


def test_compose_up_healthy_answers_down(cli, docker: Engine, served: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is missing: scripts/setup.sh installs Debian's docker-compose")
    if not image_tags(docker.client, NAME):
        assert cli(["build", str(served), "--backend", "docker", "--no-verify", "--progress", "plain"]).code == 0
    port = free_port()
    out = tmp_path / "compose"
    result = cli(["deploy", str(served), "--to", "compose", "-o", str(out), "--host-port", str(port),
                  "--start-timeout", "60"])
    assert result.code == 0, result.err
    project = [compose, "--project-name", "dockyardtestdeploy", "--file", str(out / "compose.yaml")]
    try:
        done = subprocess.run([*project, "up", "--detach"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        cid = subprocess.run([*project, "ps", "--quiet", NAME], capture_output=True, text=True).stdout.strip()
        status = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the health check the compose file carries (interval 10 s)
            state = inspect(docker.client, "container", cid)
            assert state is not None and state["State"]["Status"] == "running", state
            status = state["State"]["Health"]["Status"]
            if status == "healthy":
                break
            time.sleep(2)
        assert status == "healthy"
        assert state["HostConfig"]["ReadonlyRootfs"] is True and state["Config"]["User"] == "1000:1000"
        body = json.dumps({"model": "/opt/model", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "Hello!"}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert answer["choices"][0]["message"]["role"] == "assistant"
        started = time.monotonic()
        done = subprocess.run([*project, "down", "--volumes"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < 10 + 10, "down within the 10 s stop_grace_period"
    finally:
        subprocess.run([*project, "down", "--volumes"], capture_output=True, timeout=120)
