"""`dockyard up`'s pieces without an engine: the run command for every target, a stale container
replaced, a busy port explained, /health waited on (a real loopback server), a dead container noticed."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dockyard.deploy import local, ownership
from dockyard.engine.detect import Capabilities, Completed, Engine
from dockyard.errors import EngineError, InputError

from .conftest import MakeDeployment

CAPS = Capabilities(buildkit=True, cache_mounts=True, secret_mounts=True, bind_mounts=True, named_contexts=False,
                    bake=False)
DOCKER = Engine("docker", "/usr/bin/docker", "20.10", "20.10", "buildkit-env", CAPS)
PODMAN = Engine("podman", "/usr/bin/podman", "4.3", "4.3", "buildah", CAPS)


def test_cpu_run_command(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cpu")
    argv = local.run_argv(DOCKER, deployment, local.LocalOptions(), {})
    assert argv[:5] == ["/usr/bin/docker", "run", "--detach", "--name", "dockyard-tiny-chat"]
    assert argv[-1] == deployment.image
    joined = " ".join(argv)
    for part in ("--user 1000:1000", "--read-only", "--tmpfs /tmp", "--cap-drop ALL",
                 "--security-opt no-new-privileges", "--stop-timeout 30",
                 "--mount type=volume,source=dockyard-tiny-chat-hf-cache,target=/home/dockyard/.cache/huggingface",
                 "--publish 127.0.0.1:8000:8000", "--label=app.kubernetes.io/managed-by=dockyard",
                 f"--label=dev.dockyard.up.spec={Path(deployment.source).resolve()}",
                 f"--label=dev.dockyard.up.spec-digest={deployment.spec_digest}"):
        assert part in joined
    assert "--device" not in argv and "--gpus" not in argv


DEVICE_FLAGS = {
    "cpu": [],
    "intel-cpu": [],
    "cuda": ["--gpus", "1"],
    "rocm": ["--device", "/dev/kfd", "--device", "/dev/dri", "--group-add", "video", "--group-add", "109"],
    "xpu": ["--device", "/dev/dri", "--group-add", "109"],
    "tpu": ["--network", "host", "--privileged"],
}


@pytest.mark.parametrize("target", sorted(DEVICE_FLAGS))
def test_devices_per_target(make_deployment: MakeDeployment, target: str) -> None:
    deployment = make_deployment(target)
    argv = local.run_argv(DOCKER, deployment, local.LocalOptions(), {"render": 109})
    flags = [a for i, a in enumerate(argv) if a in ("--device", "--group-add", "--gpus", "--network", "--privileged")
             or (i and argv[i - 1] in ("--device", "--group-add", "--gpus", "--network"))]
    assert flags == DEVICE_FLAGS[target]
    assert ("--publish" in argv) == (target != "tpu")


def test_podman_nvidia_and_limits(make_deployment: MakeDeployment) -> None:
    argv = local.run_argv(PODMAN, make_deployment("cuda"), local.LocalOptions(name="mine", host_port=9000), {})
    assert argv[argv.index("--name") + 1] == "mine"
    assert "nvidia.com/gpu=all" in argv and "--ulimit" in argv
    assert "127.0.0.1:9000:8000" in argv


def test_mount_model_needs_a_folder(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cpu", kind="mount")
    with pytest.raises(InputError, match="--model-dir HOST_DIR"):
        local.run_argv(DOCKER, deployment, local.LocalOptions(), {})
    argv = local.run_argv(DOCKER, deployment, local.LocalOptions(model_dir="/srv/a:b"), {})
    assert "type=bind,source=/srv/a:b,target=/models/tiny,readonly=true" in argv


def test_missing_host_group() -> None:
    with pytest.raises(EngineError, match="no 'no-such-group-here' group"):
        local.host_gids(["no-such-group-here"])
    assert local.host_gids(["root"]) == {"root": 0}


class FakeRunner:
    """Answers engine commands from a table; records what ran."""

    def __init__(self, answers: dict[str, Completed]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], env: dict[str, str] | None) -> Completed:
        self.calls.append(list(argv))
        return self.answers.get(argv[1], Completed(0, "", ""))


def inspected(status: str, labels: dict[str, str]) -> Completed:
    return Completed(0, json.dumps([{"State": {"Status": status}, "Config": {
        "Image": "dockyard/tiny-chat:abc", "Labels": labels}}]), "")


def test_only_this_specs_stopped_container_is_replaced(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cpu")
    mine = ownership.container_labels(deployment, {}, "run-1")
    runner = FakeRunner({"container": inspected("exited", mine)})
    found = local.state(DOCKER, "c", runner)
    assert found is not None and found.status == "exited" and ownership.owns(found.owner, deployment)
    local.start(DOCKER, ["/usr/bin/docker", "run", "x"], "c", deployment, "run-2", runner)
    assert ["/usr/bin/docker", "rm", "--force", "c"] in runner.calls, "a stopped container of this spec is replaced"
    assert runner.calls[-1] == ["/usr/bin/docker", "run", "x"]
    for labels in ({}, {**mine, ownership.SPEC: "/elsewhere/other.toml"}):
        runner = FakeRunner({"container": inspected("exited", labels)})
        with pytest.raises(InputError, match="dockyard leaves it as it is") as caught:
            local.start(DOCKER, ["/usr/bin/docker", "run", "x"], "c", deployment, "run-2", runner)
        assert not any("rm" in call for call in runner.calls), "a foreign container is never removed"
        assert caught.value.hint is not None and "--name c-" in caught.value.hint
    assert local.state(DOCKER, "c", FakeRunner({"container": Completed(1, "", "no such container")})) is None


def test_busy_port_is_explained(make_deployment: MakeDeployment) -> None:
    runner = FakeRunner({"container": Completed(1, "", ""), "run": Completed(
        125, "", "docker: Error response from daemon: driver failed: Bind for 127.0.0.1:8000 failed: port is "
                 "already allocated.")})
    with pytest.raises(EngineError, match="port is already allocated") as caught:
        local.start(DOCKER, ["/usr/bin/docker", "run", "x"], "c", make_deployment("cpu"), "run-1", runner)
    assert caught.value.hint is not None and "--port HOST_PORT" in caught.value.hint
    assert not any("rm" in call for call in runner.calls), "no container of this run to remove"


class Handler(http.server.BaseHTTPRequestHandler):
    healthy_after = 2
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path == "/v1/models":
            body = json.dumps({"object": "list", "data": [{"id": "/opt/model", "object": "model"}]}).encode()
            code = 200
        else:
            code, body = (200, b"{}") if type(self).hits > self.healthy_after else (503, b"")
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    Handler.hits = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_wait_until_healthy(server: str) -> None:
    ticks: list[float] = []
    seconds = local.wait_healthy(f"{server}/health", lambda: True, 30, ticks.append, interval=0.01)
    assert seconds is not None and len(ticks) == 3, "two 503s, then 200"
    assert local.model_ids(server) == ["/opt/model"]


def test_dead_container_stops_the_wait(server: str) -> None:
    Handler.healthy_after = 1000
    try:
        assert local.wait_healthy(f"{server}/health", lambda: False, 30, interval=0.01) is None
        assert local.wait_healthy(f"{server}/health", lambda: True, 0.05, interval=0.01) is None
    finally:
        Handler.healthy_after = 2
    assert not local.health("http://127.0.0.1:9/health", timeout=0.5)


def test_fetch_at_start_runs_the_image_first(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cuda", kind="hub", fetch="start")
    fetch = local.fetch_argv(DOCKER, deployment, local.LocalOptions(), ["HF_TOKEN", "HF_ENDPOINT"])
    assert fetch[:5] == ["/usr/bin/docker", "run", "--rm", "--name", "dockyard-tiny-chat-fetch"]
    joined = " ".join(fetch)
    assert "--mount type=volume,source=dockyard-tiny-chat-model,target=/opt/model " in joined and "--read-only" in fetch
    assert "--env HF_TOKEN --env HF_ENDPOINT" in joined, "values come from the environment, never the command line"
    assert fetch[-5:] == [deployment.image, "/opt/dockyard/hub_model.py", "org/tiny", "a" * 40, "/opt/model"]
    assert fetch[fetch.index("--entrypoint") + 1] == "/opt/venv/bin/python"
    server = local.run_argv(DOCKER, deployment, local.LocalOptions(), {})
    assert "type=volume,source=dockyard-tiny-chat-model,target=/opt/model,readonly=true" in server
    assert "HF_TOKEN" not in " ".join(server)
    assert server[server.index("--shm-size") + 1] == "1g"
