"""A `path:` model folder is confined input (issue 21): what leads out of the spec's folder, special files
and kernel files are refused with exit 2 naming [serve].model; .git, .dockerignore'd paths and dockyard's
own outputs are left out of the model layer; every read of a model file is bounded and never blocks; a
spec that extends another takes the model from the folder of the spec that names it."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from dockyard.errors import EXIT_INVALID, SpecError
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
from dockyard.spec.modelfolder import MAX_JSON_BYTES, read_bounded, read_model_json, walk_model

from ..conftest import CliRunner
from .test_serve import model_folder, spec_file

SECRET = "hf_" + "Ab1" * 12  # token-shaped, made up


def check(run_cli: CliRunner, spec: Path) -> str:
    result = run_cli(["check", str(spec)])
    assert result.code == EXIT_INVALID, result.out + result.err
    assert "[serve].model" in result.err and "Traceback" not in result.err
    return result.err


def rendered_model(spec: Path, out: Path) -> set[str]:
    render(resolve(load(str(spec)))).write(out, shared=True)
    return {p.relative_to(out / "model").as_posix() for p in (out / "model").rglob("*")}


@pytest.mark.parametrize("model", ["path:../outside", "path:/etc", "path:link-out"])
def test_a_folder_outside_the_spec_folder_is_refused(run_cli: CliRunner, tmp_path: Path, model: str) -> None:
    home = tmp_path / "spec"
    model_folder(tmp_path, "outside")
    model_folder(home)
    (home / "link-out").symlink_to(tmp_path / "outside")
    err = check(run_cli, spec_file(home, f'model = "{model}"\n'))
    assert "outside the folder of the spec" in err


@pytest.mark.parametrize("target", ["secret", "/proc/self/environ", "/dev/zero"])
def test_a_file_link_out_of_the_folder_is_refused(run_cli: CliRunner, tmp_path: Path, target: str) -> None:
    (tmp_path / "secret").write_text(SECRET)
    home = tmp_path / "spec"
    folder = model_folder(home)
    (folder / "stolen.txt").symlink_to(tmp_path / target if target == "secret" else Path(target))
    err = check(run_cli, spec_file(home, 'model = "path:tiny"\n'))
    assert "stolen.txt is a link to" in err and SECRET not in err


def test_kernel_files_are_refused_even_for_a_spec_at_the_root(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    (folder / "env").symlink_to("/proc/self/environ")
    with pytest.raises(SpecError, match="env is a link to /proc/"):
        walk_model(Path("/"), folder, "where")  # the root holds /proc, and it is still refused


def test_special_files_are_refused(run_cli: CliRunner, tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    os.mkfifo(folder / "tokenizer_config.json")
    assert "tokenizer_config.json is a FIFO" in check(run_cli, spec_file(tmp_path, 'model = "path:tiny"\n'))
    (folder / "tokenizer_config.json").unlink()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "s"))
        assert "s is a socket" in check(run_cli, spec_file(tmp_path, 'model = "path:tiny"\n'))


def test_a_link_loop_is_refused(run_cli: CliRunner, tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    (folder / "again").symlink_to(folder)
    assert "a link to a folder it is in" in check(run_cli, spec_file(tmp_path, 'model = "path:tiny"\n'))


def test_links_inside_the_spec_folder_are_followed(tmp_path: Path) -> None:
    """A Hub cache snapshot is made of links into ../blobs: inside the spec's folder, they are copied."""
    folder = model_folder(tmp_path)
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "abc").write_text("weights")
    (folder / "model.safetensors").symlink_to(tmp_path / "blobs" / "abc")
    files = rendered_model(spec_file(tmp_path, 'model = "path:tiny"\n'), tmp_path / "out")
    assert (tmp_path / "out" / "model" / "model.safetensors").read_text() == "weights"
    assert not (tmp_path / "out" / "model" / "model.safetensors").is_symlink() and "config.json" in files


def test_git_dockerignore_and_dockyard_outputs_are_left_out(tmp_path: Path) -> None:
    """`path:.`: the spec's own folder, with a .git holding a credential and an earlier render output."""
    model_folder(tmp_path, ".")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"[remote]\nurl = https://x:{SECRET}@example.com/r\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_text("x")
    (tmp_path / "keep.txt").write_text("kept")
    (tmp_path / ".dockerignore").write_text("data\n*.log\n")
    (tmp_path / "debug.log").write_text("log")
    spec = spec_file(tmp_path, 'model = "path:."\n')
    render(resolve(load(str(spec)))).write(tmp_path / "earlier")  # an earlier render, inside the model folder
    files = rendered_model(spec, tmp_path / "out")  # the output folder is inside the model folder too
    assert {"config.json", "keep.txt", "serve.toml"} <= files
    assert not any(f.startswith((".git", "data", "earlier", "out")) for f in files), files
    assert "debug.log" not in files and ".dockyard-files" not in files
    plan = resolve(load(str(spec)))
    assert any("the model folder is the spec's own folder" in w for w in plan.warnings)
    assert any("left out: " in n and ".git (git metadata)" in n for n in plan.notes)


def test_a_model_file_changed_into_a_link_after_loading_is_refused_at_copy(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    (folder / "notes.txt").write_text("fine")
    plan = resolve(load(str(spec_file(tmp_path, 'model = "path:tiny"\n'))))
    (folder / "notes.txt").unlink()
    (folder / "notes.txt").symlink_to("/proc/self/environ")
    with pytest.raises(SpecError, match=r"notes\.txt is a link to /proc/"):
        render(plan).write(tmp_path / "out")


def test_an_extending_spec_takes_the_model_of_the_spec_that_names_it(tmp_path: Path) -> None:
    parent_home, child_home = tmp_path / "parent", tmp_path / "child"
    model_folder(parent_home)
    (parent_home / "tiny" / "from-parent.txt").write_text("parent")
    model_folder(child_home)  # a folder of the same name beside the child is not what is copied
    (child_home / "tiny" / "from-child.txt").write_text("child")
    parent = spec_file(parent_home, 'model = "path:tiny"\n')
    child = child_home / "child.toml"
    child.write_text(f'[image]\nname = "c"\nextends = "{parent}"\n')
    spec = load(str(child))
    assert spec.serve is not None and spec.serve.model.root == parent_home.resolve()
    files = rendered_model(child, tmp_path / "out")
    assert "from-parent.txt" in files and "from-child.txt" not in files
    assert any("the model comes from the spec that names it" in n for n in resolve(spec).notes)


def test_reads_are_bounded_and_never_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done: list[str] = []
    reader = threading.Thread(target=lambda: done.append(_problem(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    assert done and "FIFO" in done[0], "a FIFO is refused at once, not waited on"
    assert "character device" in _problem(Path("/dev/zero"))
    big = tmp_path / "config.json"
    big.write_bytes(b" " * (MAX_JSON_BYTES + 1))
    with pytest.raises(SpecError, match="larger than"):
        read_model_json(big, "where")
    big.write_text(json.dumps({"a": 1}))
    assert read_model_json(big, "where") == {"a": 1} and read_model_json(tmp_path / "missing", "where") == {}


def _problem(path: Path) -> str:
    try:
        read_bounded(path, 1024)
    except OSError as exc:
        return str(exc)
    return "read"


@pytest.mark.parametrize(("model", "fragment"), [
    (f"hub:org/name@{SECRET}", "looks like a Hugging Face token"),
    ("hub:org/name@../../x", "the revision"),
    ("hub:org/name@--help", "the revision"),
    ("hub:org/name@-", "the revision"),
    ("hub:org/../name", "not a Hub repository"),
    ("mount:/etc", "not a folder under /models"),
    ("mount:/opt/venv", "not a folder under /models"),
    ("mount:/models", "not a folder under /models"),
    ("mount:/models/a b", "absolute path"),
])
def test_model_references_keep_to_their_grammar(run_cli: CliRunner, tmp_path: Path, model: str,
                                                fragment: str) -> None:
    err = check(run_cli, spec_file(tmp_path, f'model = "{model}"\n'))
    assert fragment in err and SECRET not in err


@pytest.mark.parametrize(("hf_home", "fragment"), [
    ("/opt/model", "overlaps the model's folder"),
    ("/opt", "would hide /opt/venv"),
    ("/tmp/cache", "lies inside /tmp"),
    ("/opt/venv/cache", "lies inside /opt/venv"),
    ("rel:/x:rw", "not an absolute path"),
    ("/c/${DEPLOYER_SECRET}", "not an absolute path"),
    ("/", "not an absolute path"),
])
def test_hf_home_of_a_serve_image_is_a_mount_point_of_its_own(run_cli: CliRunner, tmp_path: Path, hf_home: str,
                                                              fragment: str) -> None:
    model_folder(tmp_path)
    spec = spec_file(tmp_path, 'model = "path:tiny"\n',
                     head=f'[image]\nname = "t"\nextends = "cpu-serve"\n[image.env]\nHF_HOME = "{hf_home}"\n')
    result = run_cli(["check", str(spec)])
    assert result.code == EXIT_INVALID and "[image].env.HF_HOME" in result.err and fragment in result.err


def test_a_mount_model_and_the_cache_do_not_overlap(run_cli: CliRunner, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, 'model = "mount:/models/x"\n',
                     head='[image]\nname = "t"\nextends = "cpu-serve"\n[image.env]\nHF_HOME = "/models"\n')
    result = run_cli(["check", str(spec)])
    assert result.code == EXIT_INVALID and "overlaps the model's folder /models/x" in result.err


def test_a_token_is_refused_in_every_string_field(run_cli: CliRunner, tmp_path: Path) -> None:
    model_folder(tmp_path)
    spec = spec_file(tmp_path, 'model = "path:tiny"\n',
                     head=f'[image]\nname = "t"\nextends = "cpu-serve"\ndescription = "x {SECRET}"\n')
    result = run_cli(["check", str(spec)])
    assert result.code == EXIT_INVALID and "[image].description" in result.err and SECRET not in result.err
