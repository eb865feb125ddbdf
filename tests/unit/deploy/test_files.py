"""Generated files never overwrite a file dockyard did not write, and a run leaves exactly its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.files import header, write_all
from dockyard.errors import InputError


def ours(text: str) -> str:
    return "\n".join(f"# {line}" for line in header("test", "spec.toml", "img")) + "\n" + text


def test_writes_and_rewrites_its_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_all(out, {"a.yaml": ours("a: 1\n")})
    write_all(out, {"a.yaml": ours("a: 2\n")})
    assert (out / "a.yaml").read_text().endswith("a: 2\n")


def test_refuses_a_foreign_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("mine: true\n")
    with pytest.raises(InputError, match=r"a\.yaml exists and was not written by dockyard") as one:
        write_all(tmp_path, {"a.yaml": ours("a: 1\n"), "b.yaml": ours("b: 1\n")})
    assert "(s)" not in one.value.message and "move that file away" in (one.value.hint or "")
    assert (tmp_path / "a.yaml").read_text() == "mine: true\n"
    assert not (tmp_path / "b.yaml").exists(), "nothing is written when one file is refused"


def test_refuses_several_foreign_files_in_the_plural(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("mine: true\n")
    with pytest.raises(InputError, match=r"a\.yaml, b\.yaml exist and were not written by dockyard") as both:
        write_all(tmp_path, {"a.yaml": ours("a: 1\n"), "b.yaml": ours("b: 1\n")})
    assert "move those files away" in (both.value.hint or "")


def test_removes_its_stale_files_only(tmp_path: Path) -> None:
    write_all(tmp_path, {"a.yaml": ours(""), "hpa.yaml": ours("")}, family=("a.yaml", "hpa.yaml", "pdb.yaml"))
    (tmp_path / "pdb.yaml").write_text("someone else's\n")
    write_all(tmp_path, {"a.yaml": ours("")}, family=("a.yaml", "hpa.yaml", "pdb.yaml"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "pdb.yaml"]


def test_output_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        write_all(tmp_path / "f", {"a.yaml": ours("")})
