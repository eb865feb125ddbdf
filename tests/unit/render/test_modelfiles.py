"""An image's tag covers a `path:` model's files (issue 22): names, sizes and contents; the cache of
file hashes only saves time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.pipeline import default_tags
from dockyard.render import modelfiles
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load


def model(root: Path) -> Path:
    folder = root / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "generation_config.json").write_text('{"max_new_tokens": 16}')
    (folder / "sub" / "w.bin").write_bytes(b"\0" * 64)
    return folder


def test_an_edited_model_changes_the_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = model(tmp_path)
    spec = tmp_path / "serve.toml"
    spec.write_text('[image]\nname = "t"\nextends = "cpu-serve"\n[serve]\nmodel = "path:m"\n')
    first = default_tags(resolve(load(str(spec))))[1]
    assert default_tags(resolve(load(str(spec))))[1] == first, "the same files, the same tag"
    (folder / "generation_config.json").write_text('{"max_new_tokens": 17}')
    edited = default_tags(resolve(load(str(spec))))[1]
    assert edited != first and edited.startswith("dockyard/t:")
    other = tmp_path / "other.toml"
    other.write_text('[image]\nname = "t"\nextends = "cpu-serve"\n[serve]\nmodel = "mount:/models/m"\n')
    assert default_tags(resolve(load(str(other))))[1] == f"dockyard/t:{resolve(load(str(other))).digest[7:19]}"


def test_names_sizes_and_contents_count_the_cache_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, cache = model(tmp_path), tmp_path / "cache.json"
    hashed: list[str] = []
    real = modelfiles._hash

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(modelfiles, "_hash", counting)
    digest = modelfiles.model_digest(folder, cache)
    assert sorted(hashed) == ["config.json", "generation_config.json", "w.bin"]
    hashed.clear()
    assert modelfiles.model_digest(folder, cache) == digest and hashed == [], "unchanged files come from the cache"
    os.utime(folder / "sub" / "w.bin", ns=(1, 1))
    assert modelfiles.model_digest(folder, cache) == digest and hashed == ["w.bin"], "a new mtime: hashed again"
    (folder / "sub" / "w.bin").rename(folder / "sub" / "v.bin")
    assert modelfiles.model_digest(folder, cache) != digest, "a renamed file is another model"
    cache.write_text("not json")
    assert modelfiles.model_digest(folder, cache), "a broken cache is ignored"
