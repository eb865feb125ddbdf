"""The matrix without an engine (a fake builder): failures do not stop the others, --fail-fast does,
--resume skips what was built and verified, the state is written after each image, the concurrency
rule holds while builds run, and the commands a remote builder gets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dockyard import pipeline
from dockyard.errors import EngineError
from dockyard.pipeline import BuildOptions
from dockyard.scale.matrix import EngineBuilder, ImageRun, Matrix, MatrixOptions, check_builder
from dockyard.scale.schedule import Budget
from dockyard.scale.state import State

from .conftest import FakeBuilder, engine


def runs(*names: str, heavy: tuple[str, ...] = ()) -> list[ImageRun]:
    return [ImageRun(f"{n}.toml", n, f"sha256:{n}{'0' * 12}", n in heavy) for n in names]


def matrix(tmp_path: Path, items: list[ImageRun], builder: FakeBuilder, concurrency: int = 1,
           **options: object) -> Matrix:
    opts = MatrixOptions(BuildOptions(), tmp_path / "state.json", **options)  # type: ignore[arg-type]
    return Matrix(items, opts, Budget(concurrency, 3), builder, "fake engine")


def test_a_failure_does_not_stop_the_others_and_every_image_is_recorded(tmp_path: Path) -> None:
    builder = FakeBuilder(fail_build={"b"}, fail_verify={"c"})
    report = matrix(tmp_path, runs("a", "b", "c", "d"), builder).run()
    status = {r.name: r.status for r in report.runs}
    assert status == {"a": "done", "b": "failed", "c": "failed", "d": "done"}
    failed = {r.name: r for r in report.failed}
    assert failed["b"].error.startswith("step [base 2/3]"), "the image name is not repeated in its own row"
    assert failed["b"].log_path == "/logs/b.log" and failed["b"].hint == "check the name"
    assert failed["c"].error == "1 probe(s) failed: import torch" and failed["c"].probes == "0/1"
    state = State.load(tmp_path / "state.json")
    assert {e.name: e.status for e in state.entries.values()} == status
    assert report.to_json()["ok"] is False and report.to_json()["images"][0]["cache"] == "3/4"


def test_fail_fast_starts_nothing_after_a_failure(tmp_path: Path) -> None:
    builder = FakeBuilder(fail_build={"b"})
    report = matrix(tmp_path, runs("a", "b", "c"), builder, fail_fast=True).run()
    assert [r.status for r in report.runs] == ["done", "failed", "cancelled"]
    assert ("build", "c") not in builder.calls


def test_verify_comes_before_push_and_a_failed_probe_stops_the_push(tmp_path: Path) -> None:
    builder = FakeBuilder(fail_verify={"b"})
    matrix(tmp_path, runs("a", "b"), builder, push=True).run()
    assert builder.calls == [("build", "a"), ("verify", "a"), ("push", "a"), ("build", "b"), ("verify", "b")]


def test_no_verify_builds_only(tmp_path: Path) -> None:
    builder = FakeBuilder()
    report = matrix(tmp_path, runs("a"), builder, verify=False).run()
    assert builder.calls == [("build", "a")] and report.runs[0].status == "done"


def test_tags_carry_the_repository_and_the_spec_digest_and_max_jobs_the_budget(tmp_path: Path) -> None:
    builder = FakeBuilder()
    matrix(tmp_path, runs("a"), builder, repository="ghcr.io/acme").run()
    options = builder.options[0]
    assert options.tags == ("ghcr.io/acme/a:latest", "ghcr.io/acme/a:a00000000000")
    assert options.max_jobs == 3 and not options.push, "pushing waits for the probes"


def test_resume_skips_built_and_verified_images_whose_image_still_exists(tmp_path: Path) -> None:
    first = FakeBuilder(fail_build={"c"})
    matrix(tmp_path, runs("a", "b", "c"), first).run()
    again = FakeBuilder(existing={"sha256:a"})  # b's image was removed since
    report = matrix(tmp_path, runs("a", "b", "c"), again, resume=True).run()
    assert [r.status for r in report.runs] == ["skipped", "done", "done"]
    assert [name for step, name in again.calls if step == "build"] == ["b", "c"]
    assert "gone" in report.runs[1].note
    assert report.runs[0].tags == ["dockyard/a:latest", "dockyard/a:a00000000000"]


def test_without_resume_everything_builds_again(tmp_path: Path) -> None:
    matrix(tmp_path, runs("a"), FakeBuilder()).run()
    again = FakeBuilder(existing={"sha256:a"})
    matrix(tmp_path, runs("a"), again).run()
    assert again.calls[0] == ("build", "a")


def test_the_state_is_on_disk_before_the_next_image_starts(tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {}

    def look(run: ImageRun) -> None:
        path = tmp_path / "state.json"
        data = json.loads(path.read_text()) if path.exists() else {"images": {}}
        seen[run.name] = sorted(e["name"] for e in data["images"].values())

    matrix(tmp_path, runs("a", "b", "c"), FakeBuilder(fail_build={"a"}, on_build=look)).run()
    assert seen == {"a": [], "b": ["a"], "c": ["a", "b"]}


def test_an_interrupted_run_keeps_what_it_finished(tmp_path: Path) -> None:
    def interrupt(run: ImageRun) -> None:
        if run.name == "b":
            raise KeyboardInterrupt

    items = runs("a", "b", "c")
    with pytest.raises(KeyboardInterrupt):
        matrix(tmp_path, items, FakeBuilder(on_build=interrupt)).run()
    state = State.load(tmp_path / "state.json")
    assert [e.name for e in state.entries.values()] == ["a"] and state.done("sha256:a000000000000")
    assert items[2].status == "cancelled"
    report = matrix(tmp_path, runs("a", "b", "c"), FakeBuilder(existing={"sha256:a"}), resume=True).run()
    assert [r.status for r in report.runs] == ["skipped", "done", "done"]


def test_a_bug_in_one_image_is_reported_as_its_failure(tmp_path: Path) -> None:
    def boom(run: ImageRun) -> None:
        if run.name == "a":
            raise ValueError("unexpected")

    report = matrix(tmp_path, runs("a", "b"), FakeBuilder(on_build=boom)).run()
    assert [r.status for r in report.runs] == ["failed", "done"]
    assert report.runs[0].error == "internal error: ValueError: unexpected"


class Watch:
    """Holds builds so that the test sees which ones run at the same time (no clocks involved)."""

    def __init__(self, parties: int) -> None:
        self.lock = threading.Lock()
        self.active: set[str] = set()
        self.seen_together: list[frozenset[str]] = []
        self.barrier = threading.Barrier(parties, timeout=30)

    def __call__(self, run: ImageRun) -> None:
        with self.lock:
            self.active.add(run.name)
            self.seen_together.append(frozenset(self.active))
        if not run.heavy:
            self.barrier.wait()  # two light builds must be running at once, else this breaks
        with self.lock:
            self.active.discard(run.name)


def test_light_images_run_side_by_side_and_a_compiling_one_alone(tmp_path: Path) -> None:
    watch = Watch(parties=2)
    items = runs("l1", "l2", "h1", "l3", "l4", heavy=("h1",))
    report = matrix(tmp_path, items, FakeBuilder(on_build=watch), concurrency=2).run()
    assert all(r.status == "done" for r in report.runs)
    assert frozenset({"l1", "l2"}) in watch.seen_together and frozenset({"l3", "l4"}) in watch.seen_together
    assert frozenset({"h1"}) in watch.seen_together
    assert not any("h1" in group and len(group) > 1 for group in watch.seen_together)


def test_check_builder_needs_buildx() -> None:
    check_builder(engine("buildx"), "remote-k8s")
    check_builder(engine("buildkit-env"), "")
    with pytest.raises(EngineError, match="needs docker buildx") as caught:
        check_builder(engine("buildkit-env"), "remote-k8s")
    assert caught.value.hint and "DOCKER_HOST" in caught.value.hint


def test_a_named_builder_reaches_the_build_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What dockyard runs for a remote or Kubernetes builder: buildx build --builder NAME --load, so the
    image comes back to this docker for the probes; DOCKER_HOST reaches the client through the environment."""
    seen: list[tuple[list[str], dict[str, str]]] = []

    def stream(argv: list[str], env: dict[str, str], log_path: Path, *rest: object, **kw: object) -> int:
        seen.append((argv, env))
        log_path.write_text("#5 [base 2/3] RUN true\n#5 ERROR: no builder here\n")
        return 1

    monkeypatch.setattr(pipeline, "_stream", stream)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "none.toml"))
    options = MatrixOptions(BuildOptions(builder="k8s-builder"), tmp_path / "state.json", verify=False)
    item = ImageRun("cpu-inference", "cpu-inference", "sha256:" + "6a7668d2524e" * 5, False)
    report = Matrix([item], options, Budget(1, 2), EngineBuilder(engine("buildx")), "fake").run()
    argv, _ = seen[0]
    assert argv[:5] == ["/usr/bin/docker", "buildx", "build", "--progress=plain", "--builder"]
    assert argv[5:7] == ["k8s-builder", "--load"]
    assert "dockyard/cpu-inference:latest" in argv
    assert report.runs[0].status == "failed"
