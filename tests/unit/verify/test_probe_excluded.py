"""A spec's `exclude` holds in the image: the probe checks that an excluded package is absent, and does not
count a requirement on it as broken (it was removed on purpose after the dependency check)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from typing import Any

import pytest

from dockyard.verify import probe


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    probe.RESULTS.clear()
    yield
    probe.RESULTS.clear()


def results() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in probe.RESULTS}


def test_an_excluded_package_that_is_installed_fails_the_check() -> None:
    probe.check_excluded({"excluded": ["pytest", "dockyard-no-such-distribution"]})
    found = results()["excluded packages absent"]
    assert not found["ok"] and found["actual"] == "pytest"


def test_absent_exclusions_pass_and_a_plan_without_them_records_nothing() -> None:
    probe.check_excluded({"excluded": ["dockyard-no-such-distribution"]})
    assert results()["excluded packages absent"]["ok"]
    probe.RESULTS.clear()
    probe.check_excluded({})
    assert probe.RESULTS == []


def test_a_requirement_on_an_excluded_package_is_not_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    """optimum-quanto requires ninja; all-latest excludes ninja (the original uninstalls it)."""

    class Dist:
        def __init__(self, name: str, requires: list[str]) -> None:
            self.metadata = {"Name": name}
            self.version = "1.0"
            self.requires = requires

    dists = [Dist("optimum-quanto", ["ninja", "numpy"]), Dist("numpy", [])]
    monkeypatch.setattr(metadata, "distributions", lambda: dists)
    probe.check_requirements({"excluded": ["ninja"]})
    assert results()["requirements consistent"]["ok"]
    probe.RESULTS.clear()
    probe.check_requirements({})
    found = results()["requirements consistent"]
    assert not found["ok"] and "optimum-quanto requires ninja" in found["detail"]
