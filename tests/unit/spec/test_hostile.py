"""Hostile specs (docs/security.md): shell code in git refs, host files through `files`, direct
references in `packages`. Each is refused with exit 2 naming the file, the key and the value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.spec import grammar
from dockyard.spec.references import git_ref

from ..conftest import CliRunner, SpecWriter

SHA = "0123456789abcdef0123456789abcdef01234567"
HASH = "a" * 64


def refused(run_cli: CliRunner, path: Path, key: str, *words: str) -> str:
    result = run_cli(["render", str(path), "-o", str(path.parent / "out")])
    assert result.code == 2, result.err
    assert f"{path}: [image].{key}" in result.err and "Traceback" not in result.err
    for word in words:
        assert word in result.err
    assert not (path.parent / "out").exists()
    return result.err


@pytest.mark.parametrize("ref", ["$(id)", "`id`", "v1;id", "a b", "-oProxyCommand=x", "v1/../../x", "a..b",
                                 "/abs", "x/", "x.lock", ".hidden", "a//b", "", "v1\\n", "ref'"])
def test_transformers_git_ref_with_shell_syntax_is_refused(run_cli: CliRunner, write_spec: SpecWriter,
                                                           ref: str) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\ntransformers = "git:{ref}"\n')
    err = refused(run_cli, path, "transformers")
    assert "is not a git branch, tag or commit" in err


@pytest.mark.parametrize("ref", [SHA, "v5.24.0", "main", "release/v5.24", "fix-1_2"])
def test_plain_git_refs_pass(ref: str) -> None:
    assert git_ref(ref, "here") == ref
    assert grammar.transformers(f"git:{ref}") is None


@pytest.mark.parametrize("entry", ["apex@-x", "apex@a..b", "apex@$(id)", "apex@a b"])
def test_addon_ref_with_shell_syntax_is_refused(run_cli: CliRunner, write_spec: SpecWriter, entry: str) -> None:
    path = write_spec(f'[image]\ntarget = "cuda"\naddons = ["{entry}"]\n')
    refused(run_cli, path, "addons")


def test_files_outside_the_spec_folder_are_refused(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["../../../../../../etc/passwd"]\n')
    refused(run_cli, path, "files", "outside the spec's folder")


def test_absolute_files_are_refused(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["/etc/passwd"]\n')
    refused(run_cli, path, "files", "absolute path")


def test_a_link_out_of_the_spec_folder_is_refused(run_cli: CliRunner, write_spec: SpecWriter,
                                                  tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-outside-key"
    secret.write_text("PRIVATE KEY\n", encoding="utf-8")
    (tmp_path / "key").symlink_to(secret)
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["key"]\n')
    refused(run_cli, path, "files", "outside the spec's folder")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "inner").mkdir()
    (folder / "inner" / "key").symlink_to(secret)
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["data"]\n')
    refused(run_cli, path, "files", "data/inner/key, a link to")
    os.unlink(secret)


def test_links_inside_the_spec_folder_are_followed(run_cli: CliRunner, write_spec: SpecWriter,
                                                   tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "app.py").write_text("print('hi')\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "app").symlink_to(tmp_path / "real")
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["data", "sub/../real/app.py"]\n')
    result = run_cli(["render", str(path), "-o", str(tmp_path / "out")])
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "app" / "data" / "app" / "app.py").read_text(encoding="utf-8") == "print('hi')\n"
    assert (tmp_path / "out" / "app" / "app.py").is_file()


def test_a_link_cycle_is_refused_not_copied_forever(run_cli: CliRunner, write_spec: SpecWriter,
                                                    tmp_path: Path) -> None:
    (tmp_path / "data" / "inner").mkdir(parents=True)
    (tmp_path / "data" / "inner" / "back").symlink_to(tmp_path / "data")
    path = write_spec('[image]\ntarget = "cpu"\nfiles = ["data"]\n')
    refused(run_cli, path, "files", "data/inner/back, a link to a folder it is in")


def test_lock_outside_the_spec_folder_is_refused(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    path = write_spec('[image]\ntarget = "cpu"\nlock = "../../../../../etc/shadow"\n')
    refused(run_cli, path, "lock", "outside the spec's folder")


@pytest.mark.parametrize("entry", ["foo @ file:///etc/passwd", "foo @ https://example.com/foo-1.0.tar.gz",
                                   "foo @ git+https://example.com/foo.git@v1"])
def test_direct_references_need_the_opt_in(run_cli: CliRunner, write_spec: SpecWriter, entry: str) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\npackages = ["{entry}"]\n')
    refused(run_cli, path, "packages", "direct reference", "allow-direct-references = true")


@pytest.mark.parametrize(("entry", "why"), [
    ("foo @ https://example.com/foo-1.0.tar.gz", "needs its hash"),
    ("foo @ https://example.com/foo-1.0.tar.gz#md5=00", "needs its hash"),
    (f"foo @ git+https://example.com/foo.git#sha256={HASH}", "cannot be checked against a hash"),
])
def test_opted_in_direct_references_need_a_hash(run_cli: CliRunner, write_spec: SpecWriter, entry: str,
                                                why: str) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\nallow-direct-references = true\npackages = ["{entry}"]\n')
    refused(run_cli, path, "packages", why)


def test_an_opted_in_direct_reference_with_its_hash_renders(run_cli: CliRunner, write_spec: SpecWriter,
                                                            tmp_path: Path) -> None:
    url = f"https://example.com/foo-1.0.tar.gz#sha256={HASH}"
    path = write_spec(f'[image]\ntarget = "cpu"\nallow-direct-references = true\npackages = ["foo @ {url}"]\n')
    result = run_cli(["render", str(path), "-o", str(tmp_path / "out")])
    assert result.code == 0, result.err
    assert f"foo @ {url}\n" in (tmp_path / "out" / "dockyard" / "requirements.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", ["einops==0.8.2 --index-url=https://evil", "einops==0.8.2 #x", "einops\\\\"])
def test_a_package_entry_is_one_requirement(run_cli: CliRunner, write_spec: SpecWriter, entry: str) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\npackages = ["{entry}"]\n')
    refused(run_cli, path, "packages")


@pytest.mark.parametrize(("key", "value"), [("base", "python:3.11 AS x"), ("base", "${HOME}"),
                                            ("variant", "cpu;id"), ("torch", "$(id)"), ("torch", "===$(id)"),
                                            ("transformers", "===`id`"), ("extras", ["a b"]),
                                            ("exclude", ["x$(id)"])])
def test_values_that_reach_an_arg_or_run_keep_to_their_grammar(run_cli: CliRunner, write_spec: SpecWriter,
                                                               key: str, value: str | list[str]) -> None:
    toml = f'"{value}"' if isinstance(value, str) else "[" + ", ".join(f'"{v}"' for v in value) + "]"
    path = write_spec(f'[image]\ntarget = "cpu"\n{key} = {toml}\n')
    refused(run_cli, path, key)


def test_long_values_are_cut_in_messages(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\ntransformers = "git:{"$" * 5000}"\n')
    err = refused(run_cli, path, "transformers", "(5004 characters)")
    assert len(err) < 1000
