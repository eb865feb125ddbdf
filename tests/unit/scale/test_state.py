"""The matrix state file: keyed by spec digest, rewritten atomically after each image."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.errors import InputError
from dockyard.scale.state import Entry, State


def entry(digest: str, status: str = "done", name: str = "img") -> Entry:
    return Entry(f"sha256:{digest}", name, f"{name}.toml", status, "sha256:id", (f"dockyard/{name}:latest",), 1.5,
                 "2026-01-01T00:00:00+00:00")


def test_round_trip_and_only_done_counts(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.json"
    state = State.load(path)
    assert state.entries == {}
    state.record(entry("a"))
    state.record(entry("b", "failed", "other"))
    again = State.load(path)
    assert again.entries == state.entries
    assert again.done("sha256:a") == entry("a")
    assert again.done("sha256:b") is None, "a failed image is rebuilt on --resume"
    data = json.loads(path.read_text())
    assert data["version"] == 1 and sorted(data["images"]) == ["sha256:a", "sha256:b"]


def test_a_later_run_replaces_the_entry_of_the_same_digest(tmp_path: Path) -> None:
    state = State.load(tmp_path / "s.json")
    state.record(entry("a", "failed"))
    state.record(entry("a", "done"))
    assert State.load(tmp_path / "s.json").done("sha256:a") is not None


def test_a_write_that_fails_leaves_the_previous_state_and_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.json"
    state = State.load(path)
    state.record(entry("a"))
    before = path.read_text()

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        state.record(entry("b"))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.parametrize("text", ["{not json", '{"images": 3}', "[]"])
def test_a_file_that_is_not_a_state_file_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(InputError, match="not a dockyard matrix state file") as caught:
        State.load(path)
    assert caught.value.hint and "--state" in caught.value.hint


def test_unknown_fields_of_a_newer_dockyard_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    data = {"version": 1, "images": {"sha256:a": {**entry("a").to_json(), "future": 1}}}
    path.write_text(json.dumps(data))
    assert State.load(path).done("sha256:a") == entry("a")
