"""Shared pieces of the scale tests: engines without a daemon, a recording fake builder, tool lookup."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.backends import backend_for
from dockyard.engine.detect import Capabilities, Engine
from dockyard.engine.progress import Step
from dockyard.engine.report import BuildReport
from dockyard.pipeline import BuildOptions
from dockyard.scale.matrix import Built, ImageRun
from dockyard.verify.run import ProbeResult, VerifyReport

VENV_BIN = Path(sys.executable).parent


def engine(mode: str = "buildx") -> Engine:
    """A docker engine as detection would describe it, without asking a daemon."""
    if mode == "buildx":
        caps = Capabilities(True, True, True, True, named_contexts=True, bake=True)
    else:
        caps = Capabilities(True, True, True, True, named_contexts=False, bake=False)
    env = {} if mode == "buildx" else {"DOCKER_BUILDKIT": "1"}
    return Engine("docker", "/usr/bin/docker", "28.0.0" if mode == "buildx" else "20.10.24", "20.10.24",
                  mode, caps, env)  # type: ignore[arg-type]


@dataclass
class FakeBuilder:
    """Builds nothing: records what the matrix asked, in order, and fails the images it is told to."""

    fail_build: set[str] = field(default_factory=set)
    fail_verify: set[str] = field(default_factory=set)
    existing: set[str] = field(default_factory=set)
    on_build: Callable[[ImageRun], None] | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    options: list[BuildOptions] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def build(self, run: ImageRun, options: BuildOptions, on_line: Callable[[str, Step | None], None]) -> Built:
        with self.lock:
            self.calls.append(("build", run.name))
            self.options.append(options)
        if self.on_build is not None:
            self.on_build(run)
        if run.name in self.fail_build:
            from dockyard.errors import BuildError

            raise BuildError(f"{run.name}: step [base 2/3] RUN apt-get install failed: apt cannot find a package",
                             "check the name", f"/logs/{run.name}.log")
        report = BuildReport(run.name, f"sha256:{run.name}", list(options.tags), 1000, [], 3, 4, 1.0,
                             f"/logs/{run.name}.log", "fake")
        return Built(report, {"name": run.name}, backend_for(engine()))

    def verify(self, built: Built, gpu: bool) -> VerifyReport:
        name = built.report.name
        with self.lock:
            self.calls.append(("verify", name))
        ok = name not in self.fail_verify
        return VerifyReport(built.report.image_id, (ProbeResult("import torch", ok, "ok", "ok" if ok else "no", ""),),
                            True, gpu)

    def push(self, built: Built) -> None:
        with self.lock:
            self.calls.append(("push", built.report.name))

    def exists(self, image: str) -> bool:
        return image in self.existing


def tool(name: str) -> str | None:
    """A tool from the venv (check-jsonschema, zizmor) or PATH."""
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
