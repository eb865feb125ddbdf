"""Which images may build now: the matrix's concurrency rule, a pure function the tests pin.

The host gives two numbers (dockyard.hostsize): `concurrency`, how many image builds that compile
nothing may run side by side (half the cores, one per 8 GiB), and `max_jobs`, the MAX_JOBS a compiling
build gets (one job per 6 GiB, at most the cores). The rule:

- an image that compiles (flash-attn, DeepSpeed ops, detectron2, a dev profile: `plan.compile` or an
  add-on that compiles) gets the whole machine: it starts only when nothing else runs, and nothing
  starts beside it; its MAX_JOBS was sized for all of the host's memory, and two nvcc builds at once
  are how CI machines run out of memory;
- other images run up to `concurrency` at a time;
- images start in the order given; a compiling image at the head of the queue waits for the running
  ones to finish instead of being overtaken forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard import hostsize


class Schedulable(Protocol):
    @property
    def heavy(self) -> bool: ...


@dataclass(frozen=True)
class Budget:
    concurrency: int  # light builds side by side
    max_jobs: int  # MAX_JOBS of a compiling build, which runs alone
    memory: int = 0
    cores: int = 0

    def describe(self) -> str:
        gib = self.memory / hostsize.GIB
        host = f" ({gib:.0f} GiB, {self.cores} cores)" if self.memory else ""
        return (f"up to {self.concurrency} image build(s) at once{host}; an image that compiles runs alone "
                f"with MAX_JOBS={self.max_jobs}")


def budget(memory: int, cores: int, jobs: int | None = None, max_jobs: int | None = None) -> Budget:
    """`jobs` (--jobs) overrides how many light builds run at once; `max_jobs` (--max-jobs) the MAX_JOBS."""
    concurrency = jobs if jobs is not None else hostsize.matrix_concurrency(memory, cores)
    return Budget(max(1, concurrency), max(1, max_jobs or hostsize.max_jobs(memory, cores)), memory, cores)


def host_budget(jobs: int | None = None, max_jobs: int | None = None) -> Budget:
    from dockyard.diagnose.host import Host, memory_and_cores

    memory, _, cores = memory_and_cores(Host())
    return budget(memory, cores, jobs, max_jobs)


def startable(queued: Sequence[Schedulable], running: Sequence[Schedulable], limit: int) -> list[int]:
    """Indexes into `queued` of the images to start now, in order."""
    active = [item.heavy for item in running]
    chosen: list[int] = []
    for index, item in enumerate(queued):
        if any(active):
            break  # a compiling build has the machine
        if item.heavy:
            if not active:
                chosen.append(index)
            break  # runs alone; later images wait behind it
        if len(active) >= limit:
            break
        chosen.append(index)
        active.append(False)
    return chosen
