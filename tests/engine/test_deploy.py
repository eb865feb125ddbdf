"""The deploy side of serve images, for real (issues 10 and 22): `dockyard up --api-key` builds a tiny local
model's serve image, runs it read-only as its user, waits for the gateway's /ready, verifies it through the
gateway and prints a key once; the official OpenAI client needs that key; `up --set` changes a setting
without a rebuild; an edited model file changes the image's tag; a model without a chat template makes `up`
exit 1 naming it; `dockyard down` stops it within its grace period; an image that never gets ready fails
with its last log lines; the compose file `dockyard deploy --to compose` writes is run by docker-compose
until healthy, answers a chat completion, and goes down.

The model is made in the test without network (tests/engine/tinymodel.py)."""

from __future__ import annotations

import json
import re
import secrets
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

NAME = f"dockyard-test-deploy-{secrets.token_hex(3)}"  # unique per run: others test on this daemon too
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


def wait_compose_healthy(client: str, cid: str, seconds: float = 120) -> dict[str, Any]:
    """A compose service's container once the health check the compose file carries (interval 10 s) says
    healthy; it must keep running meanwhile."""
    state: dict[str, Any] | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = inspect(client, "container", cid)
        assert state is not None and state["State"]["Status"] == "running", state
        if state["State"]["Health"]["Status"] == "healthy":
            return state
        time.sleep(2)
    raise AssertionError(f"{cid} not healthy within {seconds} s: {state and state['State']['Health']}")


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
    up = cli(["up", str(served), "--backend", "docker", "--port", str(port), "--progress", "plain", "--api-key"])
    assert up.code == 0, up.err
    assert "is missing: building it" in up.err, "up builds a missing image through the pipeline"
    assert f"up http://127.0.0.1:{port}" in up.out and "verified through the gateway" in up.out
    assert "from openai import OpenAI" in up.out and "Authorization: Bearer $DOCKYARD_API_KEY" in up.out
    assert "waiting for" in up.err and "/ready" in up.err, "progress while the model loads and warms up"
    found = re.search(r"API key \(shown once; kept in (\S+)\): (\S+)", up.out)
    assert found, up.out
    key_path, key = Path(found.group(1)), found.group(2)
    assert key_path.read_text().strip() == key

    container = inspect(docker.client, "container", f"dockyard-{NAME}")
    assert container is not None
    assert container["Config"]["User"] == "1000:1000"
    assert container["HostConfig"]["ReadonlyRootfs"] is True
    assert container["HostConfig"]["CapDrop"] == ["ALL"]
    assert container["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

    from openai import AuthenticationError, OpenAI

    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0).models.list()
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key)
    assert [model.id for model in client.models.list()] == [NAME], "[serve] name: the image's name by default"
    reply = client.chat.completions.create(model=NAME, max_tokens=8,
                                           messages=[{"role": "user", "content": "Hello!"}])
    assert reply.choices[0].finish_reason in ("stop", "length") and reply.choices[0].message.content is not None

    again = cli(["up", str(served), "--backend", "docker", "--port", str(port), "--progress", "plain"])
    assert again.code == 0 and "already up" in again.err, "up is idempotent"
    assert key not in again.out + again.err, "the key is printed once"

    started = time.monotonic()
    down = cli(["down", str(served), "--backend", "docker", "--volumes"])
    assert down.code == 0, down.err
    assert time.monotonic() - started < 10 + 5, "stopped within the 10 s grace period"
    assert inspect(docker.client, "container", f"dockyard-{NAME}") is None
    assert inspect(docker.client, "volume", f"dockyard-{NAME}-hf-cache") is None
    assert not key_path.exists(), "down removes the key"
    assert "nothing to stop" in cli(["down", str(served), "--backend", "docker"]).err


def test_up_set_changes_a_setting_without_a_rebuild(cli, docker: Engine, served: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    try:
        up = cli(["up", str(served), "--backend", "docker", "--port", str(port), "--progress", "plain",
                  "--set", "name=renamed-model", "--set", "continuous-batching=false", "--no-build"])
        assert up.code == 0, up.err
        assert "building" not in up.err and "model renamed-model" in up.out
        container = inspect(docker.client, "container", f"dockyard-{NAME}")
        assert container is not None
        env = container["Config"]["Env"]
        assert "DOCKYARD_SERVE_NAME=renamed-model" in env and "DOCKYARD_SERVE_CONTINUOUS_BATCHING=false" in env
        from openai import OpenAI

        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
        assert [model.id for model in client.models.list()] == ["renamed-model"]
        logs = subprocess.run([docker.client, "logs", f"dockyard-{NAME}"], capture_output=True, text=True).stderr
        server = next(line for line in logs.splitlines() if line.startswith("dockyard-serve: server:"))
        assert "renamed-model" in server and "--continuous-batching" not in server, server
    finally:
        cli(["down", str(served), "--backend", "docker", "--volumes"])


def test_an_edited_model_file_changes_the_tag(cli, docker: Engine, served: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.cli.deploy import deployment_for

    copy = tmp_path / "copy"
    shutil.copytree(served.parent, copy)
    old = set(image_tags(docker.client, NAME))
    assert deployment_for(str(copy / served.name)).image in old, "the same files elsewhere: the same, built tag"
    config = copy / "model" / "generation_config.json"
    config.write_text(config.read_text().replace('"max_new_tokens": 16', '"max_new_tokens": 17'))
    after = cli(["up", str(copy / served.name), "--backend", "docker", "--no-build"])
    assert after.code == 1 and "is not in the local docker store" in after.err, after.err
    named = re.search(r"image (dockyard/\S+) is not in the local", after.err)
    assert named and named.group(1) not in old, "a new tag for the edited model: up would rebuild"


def test_up_refuses_a_model_without_a_chat_template(cli, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = f"{NAME}-nochat"
    model = make_tiny_llama(tmp_path / "model")
    config = json.loads((model / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name=name, model="path:model"))
    check = cli(["check", str(spec)])
    assert check.code == 0 and "has no chat template" in check.err, "check warns up front"
    try:
        result = cli(["up", str(spec), "--backend", "docker", "--port", str(free_port()), "--progress", "plain"])
        assert result.code == 1, result.out + result.err
        assert "server chat completion" in result.err and "chat_template is not set" in result.err, result.err
        assert "Traceback" not in result.err and "up http" not in result.out
        assert inspect(docker.client, "container", f"dockyard-{name}") is None, "the broken server is removed"
    finally:
        subprocess.run([docker.client, "rm", "--force", f"dockyard-{name}"], capture_output=True)
        subprocess.run([docker.client, "volume", "rm", "--force", f"dockyard-{name}-hf-cache"], capture_output=True)
        subprocess.run([docker.client, "image", "rm", "--force", *image_tags(docker.client, name)],
                       capture_output=True)


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
        assert f"dockyard-{NAME}-mount exited" in result.err and "its last log lines:" in result.err
        assert "Traceback" not in result.err.split("its last log lines:")[0]
        # the server's own complaint about the missing model (it names the model id, linked to the empty mount)
        assert "the server said:" in result.err and "config.json" in result.err, result.err
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
    project = [compose, "--project-name", NAME.replace("-", ""), "--file", str(out / "compose.yaml")]
    try:
        done = subprocess.run([*project, "up", "--detach"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        cid = subprocess.run([*project, "ps", "--quiet", NAME], capture_output=True, text=True).stdout.strip()
        state = wait_compose_healthy(docker.client, cid)
        assert state["HostConfig"]["ReadonlyRootfs"] is True and state["Config"]["User"] == "1000:1000"
        assert "DOCKYARD_SERVE_CONTINUOUS_BATCHING=true" in state["Config"]["Env"], "the settings, to edit"
        body = json.dumps({"model": NAME, "max_tokens": 8,
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
