"""MAX_JOBS and matrix concurrency: pinned examples and the rules as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.hostsize import GIB, matrix_concurrency, max_jobs


@pytest.mark.parametrize(("mem_gib", "cores", "jobs", "builds"), [
    (7, 2, 1, 1),        # GitHub's old standard runner: HF built apex with MAX_JOBS=1 there
    (24, 2, 2, 1),       # this project's dev machines
    (16, 4, 2, 2),
    (64, 16, 10, 8),
    (96, 64, 16, 12),    # flash-attn README: < 96 GB with many cores needs a limit
    (2048, 96, 96, 48),
    (0, 8, 1, 1),
    (3, 1, 1, 1),
])
def test_examples(mem_gib: int, cores: int, jobs: int, builds: int) -> None:
    assert max_jobs(mem_gib * GIB, cores) == jobs
    assert matrix_concurrency(mem_gib * GIB, cores) == builds


def test_gib_per_job_is_adjustable() -> None:
    assert max_jobs(64 * GIB, 32, gib_per_job=4) == 16
    with pytest.raises(ValueError):
        max_jobs(GIB, 1, gib_per_job=0)


@given(st.integers(min_value=0, max_value=4096 * GIB), st.integers(min_value=0, max_value=512))
def test_bounds(mem: int, cores: int) -> None:
    jobs = max_jobs(mem, cores)
    assert 1 <= jobs <= max(cores, 1)
    assert jobs <= max(1, mem // (6 * GIB))
    builds = matrix_concurrency(mem, cores)
    assert 1 <= builds <= max(1, cores // 2)
    assert builds <= max(1, mem // (8 * GIB))


@given(st.integers(min_value=0, max_value=1024 * GIB), st.integers(min_value=1, max_value=256),
       st.integers(min_value=0, max_value=64 * GIB), st.integers(min_value=0, max_value=16))
def test_more_resources_never_mean_less_parallelism(mem: int, cores: int, more_mem: int, more_cores: int) -> None:
    assert max_jobs(mem + more_mem, cores + more_cores) >= max_jobs(mem, cores)
    assert matrix_concurrency(mem + more_mem, cores + more_cores) >= matrix_concurrency(mem, cores)
