"""`dockyard matrix build`: many images on one engine, as many at once as the host can take.

Each image goes queued -> building -> verifying -> (pushing) -> done, or -> failed; with --resume an
image whose spec digest is recorded as built and verified (and whose image still exists) is skipped.
A failure does not stop the others (--fail-fast stops scheduling new images after the first one).
All builds go to the same engine, so they share its layer cache and its apt/pip cache mounts.
The schedule is dockyard.scale.schedule; the state file dockyard.scale.state. The library reports
every change through callbacks; the CLI draws them.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from dockyard.engine.backends import Backend
from dockyard.engine.detect import Engine
from dockyard.engine.progress import Step
from dockyard.engine.report import BuildReport, without_mounts
from dockyard.engine.secrets import SecretSet
from dockyard.errors import BuildError, DockyardError, EngineError, VerifyError
from dockyard.pipeline import BuildOptions, expectations, prepare_build, run_build, verify_build
from dockyard.scale.schedule import Budget, startable
from dockyard.scale.select import Selected
from dockyard.scale.state import DEFAULT_PATH, Entry, State
from dockyard.verify.run import VerifyReport

FINAL = ("done", "skipped", "failed", "cancelled")


@dataclass
class ImageRun:
    ref: str
    name: str
    digest: str
    heavy: bool
    status: str = "queued"  # queued | building | verifying | pushing | done | skipped | failed | cancelled
    started: float = 0.0
    seconds: float = 0.0
    step: str = ""
    image_id: str = ""
    tags: list[str] = field(default_factory=list)
    size: int = 0
    cache: str = ""
    probes: str = ""
    error: str = ""
    hint: str = ""
    log_path: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started")
        return data


@dataclass(frozen=True)
class Built:
    report: BuildReport
    expect: dict[str, Any]  # the plan.json the image carries: what verify checks
    backend: Backend
    secrets: SecretSet = field(default_factory=SecretSet)  # what verify looks for in the image (never shown)


class Builder(Protocol):
    """What the matrix asks of an engine; tests give a fake one."""

    def build(self, run: ImageRun, options: BuildOptions, on_line: Callable[[str, Step | None], None]) -> Built: ...

    def verify(self, built: Built, gpu: bool) -> VerifyReport: ...

    def push(self, built: Built) -> None: ...

    def exists(self, image: str) -> bool: ...


@dataclass
class EngineBuilder:
    engine: Engine

    def build(self, run: ImageRun, options: BuildOptions, on_line: Callable[[str, Step | None], None]) -> Built:
        prepared = prepare_build(run.ref, options, self.engine)
        return Built(run_build(prepared, on_line), expectations(prepared), prepared.backend, prepared.secrets)

    def verify(self, built: Built, gpu: bool) -> VerifyReport:
        return verify_build(built.backend, built.report.image_id, built.expect, built.secrets, gpu)

    def push(self, built: Built) -> None:
        for tag in built.report.tags:
            argv = built.backend.push_argv(tag)
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                raise BuildError(f"pushing {tag} failed: {detail[0]}", "check the registry name and `docker login`")

    def exists(self, image: str) -> bool:
        from dockyard.engine.backends import backend_for

        return bool(image) and backend_for(self.engine).inspect(image) is not None


@dataclass(frozen=True)
class MatrixOptions:
    build: BuildOptions = field(default_factory=BuildOptions)
    state_path: Path = DEFAULT_PATH
    resume: bool = False
    fail_fast: bool = False
    verify: bool = True
    push: bool = False
    gpu: bool = False
    repository: str = "dockyard"  # tags REPOSITORY/NAME:latest and REPOSITORY/NAME:<spec digest>


@dataclass
class MatrixReport:
    runs: list[ImageRun]
    budget: Budget
    state_path: str
    seconds: float
    engine: str

    @property
    def failed(self) -> list[ImageRun]:
        return [r for r in self.runs if r.status in ("failed", "cancelled")]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "engine": self.engine,
            "concurrency": self.budget.concurrency,
            "max_jobs": self.budget.max_jobs,
            "state": self.state_path,
            "seconds": round(self.seconds, 1),
            "images": [r.to_json() for r in self.runs],
        }


def check_builder(engine: Engine, builder: str) -> None:
    if builder and engine.mode != "buildx":
        raise EngineError(f"--builder {builder}: {engine.describe()}; a named builder (remote, kubernetes, "
                          "docker-container driver) needs docker buildx",
                          "install the buildx plugin, or point DOCKER_HOST at the remote daemon instead")


def plan_runs(selected: Sequence[Selected]) -> list[ImageRun]:
    return [ImageRun(item.ref, item.name, item.plan.digest, item.heavy) for item in selected]


Listener = Callable[[ImageRun], None]
LineListener = Callable[[ImageRun, str, Step | None], None]


class Matrix:
    def __init__(self, runs: list[ImageRun], options: MatrixOptions, budget: Budget, builder: Builder,
                 engine: str = "", on_change: Listener | None = None, on_line: LineListener | None = None) -> None:
        self.runs = runs
        self.options = options
        self.budget = budget
        self.builder = builder
        self.engine = engine
        self.state = State.load(options.state_path)
        self._on_change = on_change or (lambda run: None)
        self._on_line = on_line or (lambda run, line, step: None)
        self._stop = threading.Event()

    def _set(self, run: ImageRun, status: str, **changes: Any) -> None:
        run.status = status
        for key, value in changes.items():
            setattr(run, key, value)
        if status in FINAL and run.started:
            run.seconds = round(time.monotonic() - run.started, 1)
        self._on_change(run)

    def _resume(self) -> None:
        for run in self.runs:
            entry = self.state.done(run.digest)
            if not self.options.resume or entry is None:
                continue
            image = entry.image_id or (entry.tags[0] if entry.tags else "")
            if self.builder.exists(image):
                self._set(run, "skipped", image_id=entry.image_id, tags=list(entry.tags), log_path=entry.log_path,
                          note=f"built and verified {entry.finished}")
            else:
                run.note = f"{image or 'its image'} was built before but is gone: building again"

    def run(self) -> MatrixReport:
        started = time.monotonic()
        self._resume()
        queue = [run for run in self.runs if run.status == "queued"]
        running: dict[Future[None], ImageRun] = {}
        workers = max(1, self.budget.concurrency)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dockyard-matrix")
        try:
            while queue or running:
                if not self._stop.is_set():
                    chosen = [queue[i] for i in startable(queue, list(running.values()), self.budget.concurrency)]
                    for run in chosen:
                        queue.remove(run)
                        running[pool.submit(self._one, run)] = run
                elif queue:
                    for run in queue:
                        self._set(run, "cancelled", note="not started: --fail-fast after a failure")
                    queue.clear()
                if not running:
                    continue
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    run = running.pop(future)
                    future.result()
                    if run.status == "failed" and self.options.fail_fast:
                        self._stop.set()
        except KeyboardInterrupt:
            self._stop.set()
            for run in queue:
                self._set(run, "cancelled", note="interrupted")
            raise
        finally:
            pool.shutdown(wait=True)
        return MatrixReport(self.runs, self.budget, str(self.options.state_path), time.monotonic() - started,
                            self.engine)

    def _one(self, run: ImageRun) -> None:
        """Build, verify and push one image; never raises (a failure is the image's status)."""
        run.started = time.monotonic()
        self._set(run, "building")
        tags = tuple(f"{self.options.repository}/{run.name}:{t}" for t in ("latest", run.digest.split(":")[-1][:12]))
        options = replace(self.options.build, max_jobs=self.budget.max_jobs, push=False, tags=tags)

        def on_line(line: str, step: Step | None) -> None:
            if step is not None:
                run.step = step.label
            self._on_line(run, line, step)

        try:
            built = self.builder.build(run, options, on_line)
            report = built.report
            self._set(run, "verifying" if self.options.verify else run.status, image_id=report.image_id,
                      tags=list(report.tags), size=report.size, log_path=report.log_path,
                      cache=f"{report.cached_steps}/{report.total_steps}", step="")
            if self.options.verify:
                verified = self.builder.verify(built, self.options.gpu)
                passed = len(verified.results) - len(verified.failures())
                run.probes = f"{passed}/{len(verified.results)}"
                if not verified.ok:
                    names = ", ".join(r.name for r in verified.failures()[:5])
                    raise VerifyError(f"{len(verified.failures())} probe(s) failed: {names}",
                                      f"dockyard verify {report.tags[0]} --json shows what each expected")
            if self.options.push:
                self._set(run, "pushing")
                self.builder.push(built)
        except DockyardError as exc:
            message = without_mounts(exc.message).removeprefix(f"{run.name}: ")
            self._finish(run, "failed", message, exc.hint or "", getattr(exc, "log_path", None) or run.log_path)
            return
        except Exception as exc:  # a bug must not take the other images down; it is reported as this one's failure
            self._finish(run, "failed", f"internal error: {type(exc).__name__}: {exc}", "", run.log_path)
            return
        self._finish(run, "done", "", "", run.log_path)

    def _finish(self, run: ImageRun, status: str, error: str, hint: str, log_path: str) -> None:
        run.seconds = round(time.monotonic() - run.started, 1)
        finished = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        self.state.record(Entry(run.digest, run.name, run.ref, status, run.image_id, tuple(run.tags), run.seconds,
                                finished, error, log_path))
        self._set(run, status, error=error, hint=hint, log_path=log_path, step="")
