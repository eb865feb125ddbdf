"""A plan the search found by passing over the preferred default builds and verifies (issue 11)."""

from __future__ import annotations

from pathlib import Path

from dockyard.engine.detect import Engine

from .conftest import SPECS
from .test_build import build, checks


def test_searched_transformers_release_builds_and_verifies(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    spec = str(SPECS / "search-older-transformers.toml")
    check = cli(["check", spec])
    assert check.code == 0, check.err
    assert "transformers 5.25.0 skipped: it has no ftfy extra; chose 5.0.0" in check.err
    result = build(cli, images, docker, spec, "search-older-transformers", tmp_path)
    assert result.code == 0, result.err
    report = result.json()
    assert report["verify"]["ok"], report["verify"]
    found = checks(report)
    assert found["version transformers"]["actual"] == "5.0.0"
    assert found["tiny model forward and generate"]["ok"]
