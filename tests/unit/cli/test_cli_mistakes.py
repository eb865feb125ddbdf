"""The user mistakes issue 17 lists: each ends in exit 2 (1 for a failure) with a message, never a traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.diagnose import read_log
from dockyard.errors import InputError
from dockyard.pipeline import _parse_build_args

from ..conftest import CliRunner

SPEC = '[image]\ntarget = "cpu"\n'
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}


def dockyard(shell: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a shell, for what only a real process shows (closed or full stdout)."""
    command = f"{sys.executable} -c 'from dockyard.cli import entrypoint; entrypoint()' {shell}"
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


def spec(tmp_path: Path, text: str = SPEC, name: str = "spec.toml") -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def test_deep_nesting(run_cli: CliRunner, tmp_path: Path) -> None:
    path = spec(tmp_path, SPEC + "[image.env]\nA = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_cli(["check", path])
    assert result.code == 2 and "nested too deeply" in result.err


def test_a_long_extends_chain(run_cli: CliRunner, tmp_path: Path) -> None:
    for i in range(40):
        spec(tmp_path, f'[image]\nextends = "s{i + 1}.toml"\n', f"s{i}.toml")
    spec(tmp_path, SPEC, "s40.toml")
    result = run_cli(["check", str(tmp_path / "s0.toml")])
    assert result.code == 2 and "a chain of more than 16 specs" in result.err


def test_render_onto_a_file_or_a_device(run_cli: CliRunner, tmp_path: Path) -> None:
    path = spec(tmp_path)
    for target in (path, "/dev/full"):
        result = run_cli(["render", path, "-o", target])
        assert result.code == 2 and "is not a folder" in result.err
    assert Path(path).read_text() == SPEC


@pytest.mark.parametrize("target", ["dir", "/dev/full", "own"])
def test_ci_output_onto_a_directory_a_device_or_a_users_file(run_cli: CliRunner, tmp_path: Path, target: str) -> None:
    path = Path(target) if target.startswith("/") else tmp_path / target
    if target == "dir":
        path.mkdir()
    elif target == "own":
        path.write_text("name: mine\n")
    result = run_cli(["ci", "github", "cpu-inference", "-o", str(path)])
    assert result.code == 2 and "error:" in result.err and "Traceback" not in result.err
    if target == "own":
        assert path.read_text() == "name: mine\n"


def test_closed_stdout(tmp_path: Path) -> None:
    done = dockyard(f"check {spec(tmp_path)} >&-", tmp_path)
    assert done.returncode == 2 and "standard output is closed" in done.stderr and "Traceback" not in done.stderr


def test_stdout_on_a_full_disk(tmp_path: Path) -> None:
    done = dockyard(f"render {spec(tmp_path)} > /dev/full", tmp_path)
    assert done.returncode == 1 and "No space left on device" in done.stderr and "Traceback" not in done.stderr


def test_binary_and_closed_stdin_for_lint(run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00FROM x\n")))
    result = run_cli(["lint", "-", "--hadolint", "off"])
    assert result.code == 2 and "not UTF-8 text" in result.err
    monkeypatch.setattr("sys.stdin", None)
    result = run_cli(["lint", "-", "--hadolint", "off"])
    assert result.code == 2 and "standard input is closed" in result.err


def test_lint_skips_a_fifo_in_a_folder_and_refuses_one_named(run_cli: CliRunner, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Dockerfile")
    result = run_cli(["lint", str(tmp_path), "--hadolint", "off"])  # before: blocked reading the FIFO forever
    assert result.code == 0 and "0 files checked" in result.err
    result = run_cli(["lint", str(tmp_path / "Dockerfile"), "--hadolint", "off"])
    assert result.code == 2 and "not a regular file" in result.err


def test_lint_never_prints_terminal_escapes_from_a_file(run_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM debian:bookworm\n\x1b]0;owned\x07\x1b[2J x\nUSER 1000\n")
    result = run_cli(["lint", str(path), "--hadolint", "off"])
    assert "\x1b" not in result.out + result.err and "\x07" not in result.out and "\\x1b" in result.out


def test_a_broken_config_value(run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("base-map = 3\n", '[base-map]\n"python:*" = 3\n', '[build]\nwheelhouse = ["a"]\n'):
        (tmp_path / "config.toml").write_text(text)
        monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "config.toml"))
        result = run_cli(["lock", "cpu-inference", "--backend", "none", "-o", str(tmp_path / "x.lock")])
        assert result.code == 2 and "config.toml" in result.err and "Traceback" not in result.err


def test_explain_reads_a_bounded_tail(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    with log.open("wb") as handle:
        for _ in range(300):
            handle.write(b"#5 0.1 noise " + b"x" * 1000 + b"\n")
        handle.write(b"#9 ERROR: the last line\n")
    text, skipped = read_log(str(log), window=64 * 1024)
    assert len(text.encode()) <= 64 * 1024 and skipped > 0
    assert text.startswith("#5 0.1 noise") and text.endswith("#9 ERROR: the last line\n")


def test_check_refuses_what_render_refuses(run_cli: CliRunner, tmp_path: Path) -> None:
    path = spec(tmp_path, SPEC + 'files = ["missing.txt"]\n')
    assert run_cli(["render", path]).code == 2
    result = run_cli(["check", path])
    assert result.code == 2 and "missing.txt does not exist" in result.err


@pytest.mark.parametrize("item", ["HF_TOKEN=abc", "EXTRA=hf_" + "a" * 34, "URL=https://u:p4ss@example.com/x"])
def test_secret_build_args_are_refused(item: str) -> None:
    with pytest.raises(InputError, match="holds a secret") as caught:
        _parse_build_args((item,), {}, [])
    assert item.split("=", 1)[1] not in str(caught.value)


@pytest.mark.parametrize("rule", ["python:*=local\nFROM evil", "python:*=img AS x", "py thon=x", "a=https://u:pw@h/x"])
def test_base_map_rules_are_checked(run_cli: CliRunner, rule: str, tmp_path: Path) -> None:
    result = run_cli(["apptainer", "cpu-inference", "--from-image", "--base-map", rule])
    assert result.code == 2 and "--base-map" in result.err and "pw@" not in result.err


@pytest.mark.parametrize("item", ["TRANSFORMERS_REF=../../evil/repo/archive/main", "TRANSFORMERS_REF=main\nRUN x",
                                  "TORCH_VERSION=2.13.0 --index-url=https://evil", "TORCH_VERSION=$(id)"])
def test_ref_and_version_build_args_keep_their_grammar(item: str) -> None:
    with pytest.raises(InputError, match="--build-arg"):
        _parse_build_args((item,), {"TRANSFORMERS_REF": "main", "TORCH_VERSION": "2.13.0"}, [])


def test_ordinary_build_args_pass() -> None:
    args = {"TRANSFORMERS_REF": "v5.24.0", "TORCH_VERSION": "2.13.0", "MAX_JOBS": "4"}
    assert _parse_build_args(tuple(f"{k}={v}" for k, v in args.items()), dict(args), []) == args


def test_lock_never_replaces_a_users_file(run_cli: CliRunner, tmp_path: Path) -> None:
    mine = tmp_path / "requirements.lock"
    mine.write_text("torch==2.13.0\n")
    result = run_cli(["lock", "cpu-inference", "--backend", "none", "-o", str(mine)])  # refused before resolving
    assert result.code == 2 and "not written by dockyard" in result.err and mine.read_text() == "torch==2.13.0\n"


def test_explain_never_prints_terminal_escapes_from_a_log(run_cli: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_bytes(b"#1 [1/2] RUN x\n#1 0.1 \x1b]0;owned\x07\x1b[31mred\n"
                    b'#1 ERROR: process "/bin/sh -c x" did not complete successfully: exit code: 1\n')
    result = run_cli(["explain", str(log)])
    assert result.code == 1 and "\x1b" not in result.out + result.err and "\\x1b]0;owned" in result.out
