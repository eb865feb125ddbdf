"""How much parallel work a host can take: compile jobs inside one build, image builds side by side.

Both numbers are pure functions of memory and cores so that build, matrix and doctor agree and tests
can pin them. Memory is the memory the builds may use (the smaller of physical RAM and a cgroup limit).

`max_jobs` is the MAX_JOBS handed to ninja/setuptools when an image compiles extensions (flash-attn,
DeepSpeed ops, apex, bitsandbytes). Compiling CUDA kernels is memory-bound, not core-bound: flash-attn's
README warns that with less than 96 GB of RAM and many cores ninja's default (cores + 2) exhausts memory
and suggests MAX_JOBS=4, and one nvcc job can take several GiB (NVCC_THREADS, default 4 in flash-attn,
multiplies that). HF's CI builds apex with MAX_JOBS=1 on 7 GB runners after OOM failures (transformers
PR #21002). A job gets GIB_PER_COMPILE_JOB = 6 GiB, the middle of the 4-8 GiB rule of thumb: an OOM
kill ends a build that may have run an hour, while one job fewer only makes it a little slower.
Never more jobs than cores, never fewer than one.

`matrix_concurrency` is how many image builds (that do not compile) run at once. Each build keeps
about one core busy unpacking and compressing layers and pip can use ~2 GiB resolving and installing a
CUDA torch with its nvidia-* wheels; page cache for multi-GB layers wants the rest. So: half the cores
(one core per build is left for the daemon and the other builds' I/O), and one build per 8 GiB.
"""

from __future__ import annotations

GIB = 1024**3
GIB_PER_COMPILE_JOB = 6
GIB_PER_IMAGE_BUILD = 8


def max_jobs(mem_bytes: int, cores: int, gib_per_job: float = GIB_PER_COMPILE_JOB) -> int:
    """Parallel compile jobs (MAX_JOBS) for an extension build: one per `gib_per_job` GiB, at most `cores`."""
    if gib_per_job <= 0:
        raise ValueError("gib_per_job must be positive")
    by_memory = int(max(mem_bytes, 0) // (gib_per_job * GIB))
    return max(1, min(max(cores, 1), by_memory))


def matrix_concurrency(mem_bytes: int, cores: int) -> int:
    """Image builds to run side by side: max(1, min(cores // 2, mem_gib // 8))."""
    mem_gib = max(mem_bytes, 0) // GIB
    return max(1, min(max(cores, 0) // 2, mem_gib // GIB_PER_IMAGE_BUILD))
