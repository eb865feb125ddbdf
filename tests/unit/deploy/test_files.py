"""Generated deployment files go through render's owned writer (render/owned.py): a file or link dockyard
did not write is never overwritten or written through, a run leaves exactly its files, writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.files import header, write_all
from dockyard.errors import InputError
from dockyard.render.owned import MANIFEST


def ours(text: str) -> str:
    return "\n".join(f"# {line}" for line in header("test", "spec.toml", "img")) + "\n" + text


def test_writes_and_rewrites_its_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_all(out, {"a.yaml": ours("a: 1\n")})
    write_all(out, {"a.yaml": ours("a: 2\n")})
    assert (out / "a.yaml").read_text().endswith("a: 2\n")
    assert "a.yaml" in (out / MANIFEST).read_text()


def test_refuses_a_foreign_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("mine: true\n")
    with pytest.raises(InputError, match=r"a\.yaml exists and was not written by dockyard") as one:
        write_all(tmp_path, {"a.yaml": ours("a: 1\n"), "b.yaml": ours("b: 1\n")})
    assert "(s)" not in one.value.message and "move that file away" in (one.value.hint or "")
    assert (tmp_path / "a.yaml").read_text() == "mine: true\n"
    assert not (tmp_path / "b.yaml").exists(), "nothing is written when one file is refused"


def test_several_foreign_files_are_named_one_at_a_time_without_a_plural_marker(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("mine: true\n")
    with pytest.raises(InputError, match=r"a\.yaml exists and was not written by dockyard") as first:
        write_all(tmp_path, {"a.yaml": ours("a: 1\n"), "b.yaml": ours("b: 1\n")})
    assert "(s)" not in first.value.message and "exist and were" not in first.value.message


def test_a_marked_file_not_in_the_manifest_is_not_ours(tmp_path: Path) -> None:
    """The marker alone proves nothing: a file that merely starts with it is someone else's."""
    (tmp_path / "compose.yaml").write_text(ours("theirs: 1\n"))
    with pytest.raises(InputError, match="was not written by dockyard"):
        write_all(tmp_path, {"compose.yaml": ours("a: 1\n")})


@pytest.mark.parametrize("target", ["dangling", "marked"])
def test_never_writes_through_a_link(tmp_path: Path, target: str) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    if target == "marked":
        elsewhere.write_text(ours("precious: 1\n"))
    (out / "compose.yaml").symlink_to(elsewhere)
    with pytest.raises(InputError, match=r"compose\.yaml exists and was not written by dockyard"):
        write_all(out, {"compose.yaml": ours("a: 1\n")})
    assert (elsewhere.read_text() == ours("precious: 1\n")) if target == "marked" else not elsewhere.exists()


def test_a_link_put_over_its_own_file_is_replaced_not_followed(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_all(out, {"compose.yaml": ours("a: 1\n")})
    (out / "compose.yaml").unlink()
    (out / "compose.yaml").symlink_to(elsewhere)  # the manifest still lists the name
    write_all(out, {"compose.yaml": ours("a: 2\n")})
    assert not elsewhere.exists() and not (out / "compose.yaml").is_symlink()


def test_removes_its_stale_files_only(tmp_path: Path) -> None:
    write_all(tmp_path, {"a.yaml": ours(""), "hpa.yaml": ours("")})
    (tmp_path / "pdb.yaml").write_text("someone else's\n")
    write_all(tmp_path, {"a.yaml": ours("")})
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "a.yaml", "pdb.yaml"]


def test_output_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        write_all(tmp_path / "f", {"a.yaml": ours("")})
