"""verify's server check, argument handling only (the real run is in tests/engine/test_serve.py): how the
server container is started, and which images get no server check."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from dockyard.engine.backends import DockerBackend
from dockyard.engine.detect import Capabilities, Engine
from dockyard.verify import serving
from dockyard.verify.run import run_options

ENGINE = Engine("docker", "/usr/bin/docker", "20.10.24", "20.10.24", "buildkit-env",
                Capabilities(True, True, True, True, named_contexts=False, bake=False), {"DOCKER_BUILDKIT": "1"})
SERVE = {"port": 8000, "health": "/health", "model_id": "/opt/model", "model_kind": "path", "grace_seconds": 30}


def test_server_runs_read_only_as_the_image_user_offline() -> None:
    options = serving.server_options({"user": "dockyard", "serve": SERVE}, DockerBackend(ENGINE), False, "n")
    assert options[:3] == ["-d", "--name", "n"]
    assert "--read-only" in options and options[options.index("--tmpfs") + 1] == "/tmp"
    assert options[options.index("--volume") + 1] == "/home/dockyard/.cache/huggingface"
    assert "HF_HUB_OFFLINE=1" in options and "--user" not in options and "--publish" not in options


def test_serve_images_are_probed_read_only() -> None:
    options, read_only = run_options({"profile": "serve", "user": "dockyard"}, DockerBackend(ENGINE), False)
    assert read_only and "--read-only" in options


@pytest.mark.parametrize("expect", [{"profile": "runtime"}, {"serve": {**SERVE, "model_kind": "mount"}}])
def test_no_server_check_without_a_model_in_the_image(expect: dict[str, object],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_engine(argv: Sequence[str], **_: object) -> None:
        raise AssertionError(f"nothing runs: {argv}")

    monkeypatch.setattr(subprocess, "run", no_engine)
    assert serving.check_server(DockerBackend(ENGINE), "img", expect) == []


def test_a_server_that_never_answers_fails_with_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if argv[1] == "exec":
            out = '{"checks": [{"name": "server health", "ok": false, "detail": "no answer in 240 s"}]}\n'
            return subprocess.CompletedProcess(argv, 0, out, "")
        if argv[1] == "logs":
            return subprocess.CompletedProcess(argv, 0, "OSError: model not found\n", "")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake)
    checks = serving.check_server(DockerBackend(ENGINE), "img", {"user": "dockyard", "serve": SERVE})
    assert [c["name"] for c in checks] == ["server health"] and not checks[0]["ok"]
    assert "no answer in 240 s" in checks[0]["detail"] and "model not found" in checks[0]["detail"]
    assert [argv[1] for argv in calls] == ["run", "exec", "logs", "rm"], "the container is always removed"
