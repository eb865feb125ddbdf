"""Serve, up and down under hostile input, for real (issue 21).

- A model folder with `notes.txt -> /proc/self/environ` never reaches an engine: `dockyard build` exits 2
  naming [serve].model, and no image exists.
- A model folder holding `.git` (with a credential), a file with the value of a build secret and a file
  with a token-shaped value of the build's environment: the image is built without `.git`, and verify's
  secret-value probe fails the build (exit 1) naming both secrets and where they are, never their values.
- `up` and `down` touch only what carries this spec's labels: a foreign container and a foreign volume of
  the same names, and a second spec whose name maps to the same container name, are refused (exit 2) and
  left as they were; a second `up` with another port is refused and the healthy server keeps running;
  Ctrl-C removes what that `up` started.

Every name is unique per run; the test removes what it made.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.detect import Engine

from .tinymodel import make_tiny_llama

RUN = secrets.token_hex(3)
NAME = f"dyt-hostile-{RUN}"
CONTAINER = f"dockyard-{NAME}"
VOLUME = f"{CONTAINER}-hf-cache"
BASE = "dockyard/bookworm-python:3.11"  # the local base image: a foreign container needs some image
DOCKYARD = [sys.executable, "-c", "import sys; from dockyard.cli import main; sys.exit(main(sys.argv[1:]))"]
# A test run started in the background by a non-interactive shell (`bash .ci/run &`) ignores SIGINT, and
# an ignored signal is inherited: Python would then never raise KeyboardInterrupt. Ctrl-C in a terminal
# finds Python's own handler, which this puts back.
INTERRUPTIBLE = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                 + DOCKYARD[2]]
SPEC = '[image]\nextends = "cpu-serve"\nname = "{name}"\n\n[serve]\nmodel = "path:model"\ngrace-seconds = 5\n'


def fake_token(prefix: str, length: int) -> str:
    """Token-shaped (digits, upper and lower case), random per run, never a real credential."""
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length - 3)) + "aZ1"
    return prefix + body


ENV_TOKEN = fake_token("ghp_", 36)  # the build environment's token: DYT_LEAK_TOKEN
BUILD_SECRET = f"deploy-key-{secrets.token_hex(12)}"  # --secret id=deploy_key,env=DYT_BUILD_SECRET


@dataclass(frozen=True)
class Leaky:
    spec: Path
    build: Any  # subprocess.CompletedProcess of `dockyard build --json`
    image: str


def engine_run(engine: Engine, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([engine.client, *args], capture_output=True, text=True, timeout=300, check=check)


def inspect(engine: Engine, kind: str, name: str) -> dict[str, Any] | None:
    done = engine_run(engine, kind, "inspect", name)
    return json.loads(done.stdout)[0] if done.returncode == 0 else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def leaky(docker: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leaky]:
    folder = tmp_path_factory.mktemp("hostile-serve")
    model = make_tiny_llama(folder / "model")
    (model / ".git").mkdir()
    (model / ".git" / "config").write_text(f'[remote "origin"]\n  url = https://me:{ENV_TOKEN}@example.com/m\n')
    (model / "notes.txt").write_text(f"the deploy key is {BUILD_SECRET}\n")
    (model / "README.md").write_text(f"pushed with {ENV_TOKEN}\n")
    spec = folder / "spec.toml"
    spec.write_text(SPEC.format(name=NAME))
    env = {**os.environ, "DYT_LEAK_TOKEN": ENV_TOKEN, "DYT_BUILD_SECRET": BUILD_SECRET}
    build = subprocess.run([*DOCKYARD, "build", str(spec), "--backend", "docker", "--json", "--log",
                            str(folder / "build.log"), "--secret", "id=deploy_key,env=DYT_BUILD_SECRET"],
                           capture_output=True, text=True, timeout=3000, env=env)
    tags = engine_run(docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"dockyard/{NAME}").stdout.split()
    try:
        yield Leaky(spec, build, next((t for t in tags if not t.endswith(":latest")), ""))
    finally:
        for name in (CONTAINER, f"{CONTAINER}-int"):
            engine_run(docker, "rm", "--force", name)
        for name in (VOLUME, f"{CONTAINER}-int-hf-cache"):
            engine_run(docker, "volume", "rm", "--force", name)
        if tags:
            engine_run(docker, "image", "rm", "--force", *tags)


def test_a_link_to_proc_never_reaches_an_engine(cli, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = f"dyt-proc-{RUN}"
    model = make_tiny_llama(tmp_path / "model")
    (model / "notes.txt").symlink_to("/proc/self/environ")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name=name))
    result = cli(["build", str(spec), "--backend", "docker"])
    assert result.code == 2, result.err
    assert "[serve].model" in result.err and "notes.txt is a link to /proc/" in result.err
    assert engine_run(docker, "image", "ls", "-q", f"dockyard/{name}").stdout.strip() == "", "no image was built"


def test_no_git_in_the_image_and_secret_values_fail_verify(leaky: Leaky, docker: Engine) -> None:
    assert leaky.build.returncode == 1, leaky.build.stderr[-3000:]
    for text in (leaky.build.stdout, leaky.build.stderr):
        assert ENV_TOKEN not in text and BUILD_SECRET not in text, "a secret's value is never printed"
    report = json.loads(leaky.build.stdout)
    checks = {c["name"]: c for c in report["verify"]["checks"]}
    leak = checks["no secret values in the image"]
    assert leak["ok"] is False
    where = " | ".join(leak["actual"])
    assert "build secret deploy_key in layer" in where and "/opt/model/notes.txt" in where
    assert "$DYT_LEAK_TOKEN of the build's environment in layer" in where and "/opt/model/README.md" in where
    assert ".git" not in where
    assert all(c["ok"] for name, c in checks.items() if name != "no secret values in the image"), \
        "everything else about the image is fine"
    # listed by the image's own Python: a serve image's trimmed root has no ls (knowledge/serve.toml root-trim)
    listing = engine_run(docker, "run", "--rm", "--entrypoint", "python", leaky.image, "-c",
                         "import os; print('\\n'.join(os.listdir('/opt/model')))", check=True)
    assert ".git" not in listing.stdout.split() and "config.json" in listing.stdout.split()


def test_up_and_down_touch_only_their_own(cli, docker: Engine, leaky: Leaky) -> None:  # type: ignore[no-untyped-def]
    assert leaky.image, "the image was built (verify failed after the build)"
    spec, port = str(leaky.spec), free_port()
    up = ["up", spec, "--backend", "docker", "--port", str(port), "--progress", "plain", "--no-build"]

    # a hand-made container, and then a hand-made volume, with the names up would use
    engine_run(docker, "create", "--name", CONTAINER, "--label", "owner=someone-else", BASE, "sleep", "1", check=True)
    for command in (up, ["down", spec, "--backend", "docker"]):
        result = cli(command)
        assert result.code == 2 and f"a container named {CONTAINER} exists and belongs to not dockyard" in result.err
        assert f"--name {CONTAINER}-" in result.err and "Traceback" not in result.err
    found = inspect(docker, "container", CONTAINER)
    assert found is not None and found["Config"]["Labels"].get("owner") == "someone-else", "left as it was"
    engine_run(docker, "rm", CONTAINER, check=True)
    engine_run(docker, "volume", "create", "--label", "owner=someone-else", VOLUME, check=True)
    result = cli(up)
    assert result.code == 2 and f"a volume named {VOLUME} exists and belongs to not dockyard" in result.err
    assert inspect(docker, "container", CONTAINER) is None, "nothing was started"
    engine_run(docker, "volume", "rm", VOLUME, check=True)

    result = cli(up)
    assert result.code == 0, result.err
    labels = inspect(docker, "container", CONTAINER)["Config"]["Labels"]  # type: ignore[index]
    assert labels["dev.dockyard.up.spec"] == str(leaky.spec.resolve())
    assert inspect(docker, "volume", VOLUME)["Labels"]["dev.dockyard.up.spec"] == str(leaky.spec.resolve())  # type: ignore[index]

    # another spec whose name maps to the same container name
    other = leaky.spec.parent / "other.toml"
    other.write_text(f'[image]\nextends = "./spec.toml"\nname = "{NAME.replace("-", "_")}"\n')
    for command in (["down", str(other), "--backend", "docker"], ["up", str(other), "--backend", "docker"]):
        result = cli(command)
        assert result.code == 2 and f"belongs to `dockyard up` of {leaky.spec.resolve()}" in result.err, result.err
    # the same spec with another port: refused, the healthy server keeps running
    result = cli(["up", spec, "--backend", "docker", "--port", str(free_port()), "--no-build"])
    assert result.code == 2 and "is already up with other options (publish:" in result.err
    assert healthy(port)
    result = cli([*up, "--timeout", "1"])
    assert result.code == 0 and "is already up" in result.err and healthy(port)

    result = cli(["down", spec, "--backend", "docker", "--volumes"])
    assert result.code == 0, result.err
    assert inspect(docker, "container", CONTAINER) is None and inspect(docker, "volume", VOLUME) is None


def test_ctrl_c_removes_what_up_started(docker: Engine, leaky: Leaky) -> None:
    assert leaky.image
    name = f"{CONTAINER}-int"
    process = subprocess.Popen([*INTERRUPTIBLE, "up", str(leaky.spec), "--backend", "docker", "--name", name, "--port",
                                str(free_port()), "--progress", "plain", "--no-build"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt while up waits for /ready (its first progress line), not after a poll of the engine: on a
    # loaded machine the container could turn ready, and up finish, between two polls.
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "waiting for" in line:
            break
    assert (inspect(docker, "container", name) or {}).get("State", {}).get("Status") == "running", "".join(seen)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = "".join(seen) + rest
    assert process.returncode == 130, err
    assert f"interrupted: removed {name}, which this `dockyard up` started" in err
    assert inspect(docker, "container", name) is None
