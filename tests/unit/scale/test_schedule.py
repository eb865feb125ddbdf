"""The matrix's concurrency rule: light images side by side up to the host's limit, an image that
compiles alone with the whole MAX_JOBS budget, in the order given (a compiling image is not overtaken)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dockyard.hostsize import GIB
from dockyard.scale.schedule import budget, startable


@dataclass(frozen=True)
class Item:
    name: str
    heavy: bool = False


L1, L2, L3, H1, H2 = Item("l1"), Item("l2"), Item("l3"), Item("h1", True), Item("h2", True)


@pytest.mark.parametrize(("memory_gib", "cores", "concurrency", "max_jobs"), [
    (24, 2, 1, 2),  # this project's machines: one build at a time, MAX_JOBS 2
    (16, 4, 2, 2),
    (64, 16, 8, 10),
    (256, 64, 32, 42),
    (4, 8, 1, 1),  # little memory: never fewer than one of each
])
def test_budget_from_the_host(memory_gib: int, cores: int, concurrency: int, max_jobs: int) -> None:
    result = budget(memory_gib * GIB, cores)
    assert (result.concurrency, result.max_jobs) == (concurrency, max_jobs)
    assert "compiles runs alone" in result.describe()


def test_jobs_and_max_jobs_override_the_host() -> None:
    assert budget(24 * GIB, 2, jobs=3, max_jobs=1) == budget(24 * GIB, 2, 3, 1)
    assert (budget(24 * GIB, 2, jobs=3).concurrency, budget(24 * GIB, 2, max_jobs=1).max_jobs) == (3, 1)


@pytest.mark.parametrize(("queued", "running", "limit", "expected"), [
    ([L1, L2, L3], [], 2, [0, 1]),  # up to the limit, in order
    ([L1, L2], [L3], 2, [0]),
    ([L1], [L2, L3], 2, []),  # full
    ([H1, L1], [], 4, [0]),  # a compiling image starts alone...
    ([L1, H1], [H2], 4, []),  # ...and nothing starts beside one
    ([H1, L1], [L2], 4, []),  # a compiling image at the head waits for the machine, and is not overtaken
    ([L1, H1, L2], [], 4, [0]),  # light ones before it start; it and the ones behind it wait
    ([H1, H2], [], 4, [0]),  # never two compiling images at once
    ([], [], 2, []),
])
def test_startable(queued: list[Item], running: list[Item], limit: int, expected: list[int]) -> None:
    assert startable(queued, running, limit) == expected


def test_every_queue_makes_progress_when_nothing_runs() -> None:
    for queue in ([L1], [H1], [H1, L1], [L1, H1], [H1, H2, L1]):
        assert startable(queue, [], 1) == [0]
