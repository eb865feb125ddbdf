"""Lint work grows linearly with the file: counted in Python function calls, not timed.

A file four times longer must cost about four times the calls. Each quadratic part that was found with
a profiler (a scan of every stage or install per stage, of every instruction per finding, of the whole
stage chain per RUN for its ARG/ENV, a stage lookup by name per FROM, every path created so far per
`rm`) made this ratio grow with the size. The variables a RUN sees are still copied for it, so a file
of thousands of distinct ARG/ENV names costs more per RUN (bounded by the names, not the file). Times
are measured by bench/lint_scale.py.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest

from dockyard.lint import LintConfig, lint_text

STAGE = """\
FROM rocm/dev-ubuntu-22.04:6.2.4 AS build{n}
ARG MAX_JOBS=4
ENV PIP_NO_CACHE_DIR=1
WORKDIR /src/{n}
# dockyard: ignore=DY111
RUN pip install torch==2.6.0 --index-url https://download.pytorch.org/whl/rocm6.2.4
RUN git clone https://github.com/huggingface/transformers /src/t{n} && pip install /src/t{n}
RUN apt-get update && apt-get install -y git
RUN rm -rf /var/lib/apt/lists/* /src/t{n}
FROM python:3.12-slim AS run{n}
COPY --from=build{n} /opt /opt
RUN pip install accelerate nvidia-cublas-cu12
FROM build0 AS again{n}
RUN pip install peft
USER root
"""
ONE_STAGE_STEP = """\
ARG V{k}=x{n}
ENV E{k}=${{V{k}}}
WORKDIR /w{n}
RUN pip install einops==0.8.{n} && rm -rf /root/.cache
"""


def calls(text: str) -> int:
    """Python function calls made while linting `text` (deterministic, unlike a time)."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        lint_text(text, "Dockerfile", LintConfig())
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize(
    ("shape", "make"),
    [
        ("many stages", lambda n: "".join(STAGE.format(n=i) for i in range(n))),
        ("one long stage",
         lambda n: "FROM python:3.12-slim\n" + "".join(ONE_STAGE_STEP.format(n=i, k=i % 8) for i in range(n))),
    ],
)
def test_work_grows_linearly(shape: str, make: Any) -> None:
    small, large = calls(make(25)), calls(make(100))
    ratio = large / small
    assert ratio < 4 * 1.25, f"{shape}: 4x the file took {ratio:.1f}x the calls"
