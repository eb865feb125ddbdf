"""GPU architecture arithmetic: what compiled code runs on, which toolkit compiles for an arch."""

from __future__ import annotations

import pytest
from packaging.version import Version

from dockyard.knowledge import archs


@pytest.mark.parametrize(("compiled", "gpu", "runs"), [
    (["8.0", "8.6"], "8.9", True),        # same major, older minor: SASS runs
    (["8.0"], "9.0", False),              # another major, no PTX
    (["9.0+PTX"], "12.0", True),          # PTX JIT on anything newer
    (["9.0a"], "9.0", True),
    (["9.0a"], "9.2", False),             # arch-specific code runs on that arch only
    (["10.0f"], "10.3", True),            # family code runs on later members of the family
])
def test_covers(compiled: list[str], gpu: str, runs: bool) -> None:
    assert archs.covers(compiled, gpu) is runs


@pytest.mark.parametrize(("arch", "toolkit", "first", "last", "ok"), [
    ("7.0", "12.6", "9.0", 12, True),
    ("7.0", "13.0", "9.0", 12, False),     # CUDA 13 dropped Volta
    ("10.0", "12.6", "12.8", None, False),
    ("9.0a", "11.8", "11.8", None, False),  # arch-specific targets need CUDA 12.0
    ("9.0a", "12.0", "11.8", None, True),
    ("10.0f", "12.8", "12.8", None, False),  # family targets need CUDA 12.9
])
def test_toolkit_supports(arch: str, toolkit: str, first: str, last: int | None, ok: bool) -> None:
    assert archs.toolkit_supports(arch, Version(toolkit), first, last) is ok


def test_first_toolkit_and_nodot() -> None:
    assert archs.first_toolkit("9.0a", "11.8") == Version("12.0")
    assert archs.first_toolkit("8.0", "11.0") == Version("11.0")
    assert archs.nodot(["8.0", "9.0", "12.0+PTX"]) == "80;90;120"
