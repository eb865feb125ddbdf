"""Images that reach a cluster, and models fetched at start (issue 23), for real, with one image.

The spec serves `hub:dockyard-test/tiny-llama@COMMIT` with `fetch = "start"`: the image carries no
weights. `dockyard build --push --registry` builds it, verifies it and pushes it to a real registry on
loopback (Debian's docker-registry, the session's `registry` fixture), recording the digest; docker
and podman pull it by that digest; `deploy --registry` names it by digest. Then the fetch step runs
against the local stand-in Hub (tests/engine/fakehub.py, on the container bridge): `dockyard up` fills
the model volume once (the token reaches the Hub, not the server), serves offline from it, and a second
start with the Hub gone reuses the volume; docker-compose runs the compose file's fetch service and
the server that waits for it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.cli import main
from dockyard.engine.detect import Engine

from .fakehub import FakeHub, serve_hub
from .test_deploy import free_port, image_tags, inspect, wait_compose_healthy
from .test_secrets import FAKE_TOKEN
from .test_serve_hub import bridge_gateway
from .tinymodel import make_tiny_llama

REPO = "dockyard-test/tiny-llama"
COMMIT = "7d1c0de5a1b2c3d4e5f60718293a4b5c6d7e8f91"
SPEC = f"""[image]
extends = "cpu-serve"
name = "{{name}}"

[serve]
model = "hub:{REPO}@{COMMIT}"
fetch = "start"
grace-seconds = 10
"""


@dataclass(frozen=True)
class Built:
    spec: Path
    name: str
    registry: str
    state: Path  # the pushed-digest record (XDG_STATE_HOME/dockyard/pushed.json)
    model: Path  # the tiny model the stand-in Hub serves


def _cleanup(docker: Engine, name: str, registry: str) -> None:
    subprocess.run([docker.client, "rm", "--force", f"dockyard-{name}", f"dockyard-{name}-fetch"], capture_output=True)
    for volume in (f"dockyard-{name}-hf-cache", f"dockyard-{name}-model"):  # after the containers that use them
        subprocess.run([docker.client, "volume", "rm", "--force", volume], capture_output=True)
    remote = subprocess.run([docker.client, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                             f"{registry}/{name}"], capture_output=True, text=True).stdout.split()
    subprocess.run([docker.client, "image", "rm", "--force", *image_tags(docker.client, name), *remote],
                   capture_output=True)


@pytest.fixture(scope="module")
def built(docker: Engine, registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("fetch-push")
    name = f"dyt-fetch-{secrets.token_hex(3)}"
    spec = folder / "spec.toml"
    spec.write_text(SPEC.format(name=name))
    state = folder / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(state))
        try:
            code = main(["build", str(spec), "--backend", "docker", "--push", "--registry", registry,
                         "--progress", "plain", "--quiet"])
            assert code == 0, "build --push --registry"
            yield Built(spec, name, registry, state / "dockyard" / "pushed.json", make_tiny_llama(folder / "model"))
        finally:
            _cleanup(docker, name, registry)


def pushed(built: Built) -> tuple[str, str]:
    """(REGISTRY/NAME:TAG, sha256:...) as the record has it."""
    record = json.loads(built.state.read_text())
    [(reference, entry)] = [(k, v) for k, v in record.items() if k.startswith(f"{built.registry}/{built.name}:")]
    return reference, entry["digest"]


def test_push_records_the_digest_and_both_engines_pull_by_it(cli, docker: Engine, built: Built,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(built.state.parent.parent))
    reference, digest = pushed(built)
    repository = reference.rsplit(":", 1)[0]
    local = inspect(docker.client, "image", reference)
    assert local is not None and f"{repository}@{digest}" in local["RepoDigests"], "docker agrees on the digest"

    again = cli(["push", str(built.spec), "--registry", built.registry, "--backend", "docker", "--json"])
    assert again.code == 0, again.err
    assert again.json()["reference"] == f"{repository}@{digest}", "the same bytes: the same digest"

    by_digest = f"{repository}@{digest}"
    done = subprocess.run([docker.client, "pull", by_digest], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if shutil.which("podman"):
        try:
            done = subprocess.run(["podman", "pull", "--tls-verify=false", by_digest], capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, done.stderr
            found = subprocess.run(["podman", "image", "inspect", by_digest, "--format", "{{.Digest}}"],
                                   capture_output=True, text=True, timeout=60)
            assert found.stdout.strip() == digest
        finally:
            subprocess.run(["podman", "image", "rm", "--force", by_digest], capture_output=True, timeout=120)

    out = tmp_path / "k8s"
    result = cli(["deploy", str(built.spec), "--to", "kubernetes", "-o", str(out), "--registry", built.registry,
                  "--pull-secret", "registry-login"])
    assert result.code == 0, result.err
    pod = yaml.safe_load((out / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == by_digest and pod["initContainers"][0]["image"] == by_digest
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "no digest known" not in result.err

    missing = cli(["push", str(built.spec).replace("spec.toml", "nope.toml"), "--registry", built.registry])
    assert missing.code == 2


def _chat(port: int, model: str) -> dict[str, Any]:
    """A chat completion naming the model id the image serves (a hub: model's repository id, issue 22)."""
    body = json.dumps({"model": model, "max_tokens": 8,
                       "messages": [{"role": "user", "content": "Hello!"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def test_up_fetches_once_then_serves_offline(cli, docker: Engine, built: Built,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub(REPO, COMMIT, built.model)
    port = free_port()
    up = ["up", str(built.spec), "--backend", "docker", "--port", str(port), "--progress", "plain", "--no-build"]
    with serve_hub(hub, bridge_gateway(docker)):
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
        first = cli(up)
        assert first.code == 0, first.err
    assert "fetching hub:" in first.err and "downloaded to /opt/model (with a token)" in first.err
    model_requests = [auth for path, auth in zip(hub.paths, hub.authorizations, strict=True) if "/resolve/" in path]
    assert model_requests and all(auth == f"Bearer {FAKE_TOKEN}" for auth in model_requests)
    assert _chat(port, REPO)["choices"][0]["message"]["role"] == "assistant"
    server = inspect(docker.client, "container", f"dockyard-{built.name}")
    assert server is not None
    env = "\n".join(server["Config"]["Env"])
    assert "HF_HUB_OFFLINE=1" in env and FAKE_TOKEN not in json.dumps(server), "the server never sees the token"
    model_mount = [m for m in server["Mounts"] if m["Destination"] == "/opt/model"]
    assert model_mount and model_mount[0]["Name"] == f"dockyard-{built.name}-model" and model_mount[0]["RW"] is False
    assert cli(["down", str(built.spec), "--backend", "docker"]).code == 0

    requests_before = len(hub.paths)
    second = cli(up)  # the stand-in Hub is gone: the volume is all there is
    assert second.code == 0, second.err
    assert "is already in /opt/model; nothing to download" in second.err
    assert len(hub.paths) == requests_before
    assert _chat(port, REPO)["choices"][0]["message"]["role"] == "assistant"
    down = cli(["down", str(built.spec), "--backend", "docker", "--volumes"])
    assert down.code == 0 and f"removed volume dockyard-{built.name}-model" in down.err
    assert inspect(docker.client, "volume", f"dockyard-{built.name}-model") is None


def test_compose_runs_the_fetch_service_first(cli, docker: Engine, built: Built,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is missing: scripts/setup.sh installs Debian's docker-compose")
    port = free_port()
    out = tmp_path / "compose"
    result = cli(["deploy", str(built.spec), "--to", "compose", "-o", str(out), "--host-port", str(port),
                  "--start-timeout", "60"])
    assert result.code == 0, result.err
    token = tmp_path / "token"
    token.write_text(FAKE_TOKEN + "\n")
    token.chmod(0o644)  # the image's user reads the secret file compose bind-mounts
    hub = FakeHub(REPO, COMMIT, built.model)
    project = [compose, "--project-name", built.name.replace("-", ""), "--file", str(out / "compose.yaml")]
    try:
        with serve_hub(hub, bridge_gateway(docker)):
            env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN_FILE": str(token)}
            done = subprocess.run([*project, "up", "--detach"], capture_output=True, text=True, timeout=300, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        fetched = subprocess.run([*project, "ps", "--all", "--quiet", "fetch-model"], capture_output=True,
                                 text=True).stdout.strip()
        state = inspect(docker.client, "container", fetched)
        assert state is not None and state["State"]["ExitCode"] == 0, "the fetch service completed"
        assert any(auth == f"Bearer {FAKE_TOKEN}" for auth in hub.authorizations), "the secret file reached the Hub"
        cid = subprocess.run([*project, "ps", "--quiet", built.name], capture_output=True, text=True).stdout.strip()
        wait_compose_healthy(docker.client, cid)
        assert _chat(port, REPO)["choices"][0]["message"]["role"] == "assistant"
    finally:
        subprocess.run([*project, "down", "--volumes"], capture_output=True, timeout=120)
