"""`dockyard matrix build` for real (issue 5): three CPU images on this machine's docker, one forced to
fail; then its spec is fixed and `--resume` rebuilds only it. And a run killed part-way keeps what it had
finished.

Which three images: only cpu-inference and quality of the presets build on these machines (the others
need GitHub or torchvision's CPU wheel, which cannot be fetched here). quality is used through a spec
file that extends it and only pins transformers 5.22.2 without the preset's extra gitpython pin: the
preset's transformers 5.24.0 asks, through its `quality` extra, for transformers-mlinter 0.1.6, which
this machine's package index does not have (5.22.2's extra takes 0.1.5 and GitPython<3.1.19, which the
preset's own gitpython pin then contradicts). The third image is a spec file that extends cpu-inference
with one more apt package: first one that does not exist (a real apt failure), then one that does.
Images are tagged under their own repository and removed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dockyard.engine.detect import Engine

REPOSITORY = "dockyard-test-matrix"
QUALITY = '[image]\nextends = "quality"\nname = "quality-here"\ntransformers = "5.22.2"\npackages = []\n'
EXTRA = '[image]\nextends = "cpu-inference"\nname = "cpu-extra"\nsystem-packages = ["{package}"]\n'


def specs(folder: Path, package: str) -> list[str]:
    (folder / "quality-here.toml").write_text(QUALITY)
    (folder / "cpu-extra.toml").write_text(EXTRA.format(package=package))
    return ["cpu-inference", str(folder / "quality-here.toml"), str(folder / "cpu-extra.toml")]


def matrix(cli, state: Path, names: list[str], *extra: str) -> tuple[int, dict[str, Any], str]:  # type: ignore[no-untyped-def]
    result = cli(["matrix", "build", *names, "--backend", "docker", "--state", str(state), "--repository", REPOSITORY,
                  "--json", *extra])
    return result.code, json.loads(result.out), result.err


def remember(images: list[tuple[str, str]], engine: Engine, report: dict[str, Any]) -> None:
    for image in report["images"]:
        images.extend((engine.client, tag) for tag in image["tags"])


def test_a_failure_then_resume_rebuilds_only_the_failed_image(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                              tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    code, first, err = matrix(cli, state, specs(tmp_path, "no-such-package-dockyard"))
    remember(images, docker, first)
    assert code == 1, err
    status = {image["name"]: image for image in first["images"]}
    assert {name: image["status"] for name, image in status.items()} == {
        "cpu-inference": "done", "quality-here": "done", "cpu-extra": "failed"}, err
    assert "apt cannot find a package" in status["cpu-extra"]["error"]
    assert status["cpu-extra"]["log_path"] and Path(status["cpu-extra"]["log_path"]).is_file()
    for name in ("cpu-inference", "quality-here"):
        passed, total = status[name]["probes"].split("/")
        assert passed == total and int(total) > 0, status[name]
    assert f"{REPOSITORY}/cpu-inference:latest" in status["cpu-inference"]["tags"]
    recorded = json.loads(state.read_text())["images"]
    assert sorted(e["status"] for e in recorded.values()) == ["done", "done", "failed"]
    assert "1 of 3 images failed: cpu-extra" in err and "--resume" in err

    code, second, err = matrix(cli, state, specs(tmp_path, "less"), "--resume")
    remember(images, docker, second)
    assert code == 0, err
    assert [(image["name"], image["status"]) for image in second["images"]] == [
        ("cpu-inference", "skipped"), ("quality-here", "skipped"), ("cpu-extra", "done")]
    fixed = second["images"][2]
    assert fixed["probes"] and fixed["probes"].split("/")[0] == fixed["probes"].split("/")[1]
    assert fixed["digest"] != status["cpu-extra"]["digest"], "the fixed spec is a new digest"
    assert len(json.loads(state.read_text())["images"]) == 4, "the failed digest stays recorded as failed"


def test_a_killed_run_keeps_what_it_finished(cli, images, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The matrix runs in its own process group, which is killed (SIGKILL: no cleanup of any kind) as soon as
    the state file records the first image; a --resume run then skips that image."""
    state = tmp_path / "state.json"
    names = specs(tmp_path, "less")[:2]
    command = [str(Path(sys.executable).parent / "dockyard"), "matrix", "build", *names, "--backend", "docker",
               "--state", str(state), "--repository", REPOSITORY, "--jobs", "1", "--progress", "plain"]
    with (tmp_path / "out.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 900  # a safety net for a stuck engine, not a measurement
            while process.poll() is None and time.monotonic() < deadline:
                if state.exists() and json.loads(state.read_text())["images"]:
                    break
                time.sleep(0.1)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    recorded = json.loads(state.read_text())["images"]
    assert [e["name"] for e in recorded.values()][:1] == ["cpu-inference"], (tmp_path / "out.log").read_text()
    assert not list(tmp_path.glob(".state.json.*")), "no torn temporary state file"
    code, report, err = matrix(cli, state, names, "--resume")
    remember(images, docker, report)
    assert code == 0, err
    assert report["images"][0]["status"] == "skipped" and report["images"][1]["status"] in ("done", "skipped")
