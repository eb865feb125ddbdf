"""scripts/setup.sh sets up what its command uses (issue 24): the README's first command (a build) gets
docker and debootstrap; the test command (`--tests`) also gets podman and docker-compose and the
development tools. Run on a copy of the script with a recording `apt-get` first on PATH and no engine
installed; the recording apt-get stops the script there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def asked_of_apt(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", repo / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "dockyard").write_text("#!/bin/sh\nexit 0\n")
    (venv / "dockyard").chmod(0o755)
    for marker in (".installed", ".installed-dev"):  # the venv is up to date: no pip install in the test
        (repo / ".venv" / marker).touch()
    tools = tmp_path / "bin"
    tools.mkdir()
    record = tmp_path / "apt-args"
    (tools / "apt-get").write_text(f'#!/bin/sh\n[ "$1" = update ] && exit 0\necho "$@" > {record}\nexit 3\n')
    (tools / "id").write_text("#!/bin/sh\necho 0\n")
    for tool in ("apt-get", "id"):
        (tools / tool).chmod(0o755)
    dirname = shutil.which("dirname")
    assert dirname is not None
    (tools / "dirname").symlink_to(dirname)
    done = subprocess.run(["/bin/bash", str(repo / "scripts" / "setup.sh"), *args], capture_output=True, text=True,
                          env={"PATH": str(tools), "HOME": str(tmp_path), **(env or {})}, timeout=60)
    asked = record.read_text().split() if record.exists() else []
    return done.returncode, asked, done.stderr


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_the_build_setup_installs_only_what_a_build_uses(tmp_path: Path) -> None:
    code, asked, err = asked_of_apt(tmp_path)
    assert code == 3, err
    assert "docker.io" in asked
    assert "podman" not in asked and "docker-compose" not in asked


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_the_test_setup_adds_podman_and_docker_compose(tmp_path: Path) -> None:
    code, asked, err = asked_of_apt(tmp_path, "--tests")
    assert code == 3, err
    assert {"docker.io", "podman", "docker-compose"} <= set(asked)


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    code, asked, err = asked_of_apt(tmp_path, "--test")
    assert code == 1 and asked == []
    assert "unknown option --test" in err


def test_the_test_command_sets_up_for_the_tests() -> None:
    text = (REPO / "scripts" / "test.sh").read_text()
    assert "bash scripts/setup.sh --tests" in text
    assert "exec bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_the_readme_commands_are_the_two_scripts() -> None:
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/setup.sh && .venv/bin/dockyard build cpu-inference" in readme
    assert "bash scripts/test.sh" in readme
    assert os.access(REPO / "scripts" / "setup.sh", os.R_OK)
