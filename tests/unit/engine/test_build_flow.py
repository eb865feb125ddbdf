"""Engine detection, progress parsing, reports and the verify command line, from recorded outputs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from dockyard.engine.detect import ClientProbe, Completed, detect_docker, docker_engine, probe_docker
from dockyard.engine.progress import Progress
from dockyard.engine.report import instruction_text, without_mounts
from dockyard.errors import EngineError
from dockyard.pipeline import BuildOptions, prepare_build
from dockyard.verify.run import run_options

from .test_build_inputs import docker_engine as make_engine

VERSION_20 = json.dumps({"Client": {"Version": "20.10.24+dfsg1"}, "Server": {"Version": "20.10.24+dfsg1"}})
VERSION_28_NO_SERVER = json.dumps({"Client": {"Version": "28.2.2"}})


def recorded(answers: dict[tuple[str, ...], Completed]):  # type: ignore[no-untyped-def]
    def runner(argv: Sequence[str], env: dict[str, str] | None) -> Completed:
        for key, answer in answers.items():
            if tuple(argv[: len(key)]) == key:
                return answer
        return Completed(1, "", "unknown command")
    return runner


def test_the_client_that_builds_with_buildkit_is_chosen_over_path_order() -> None:
    runner = recorded({
        ("/usr/local/bin/docker", "version"): Completed(0, json.dumps({"Client": {"Version": "28.2.2"},
                                                                        "Server": {"Version": "20.10.24"}}), ""),
        ("/usr/local/bin/docker", "buildx"): Completed(1, "", "docker: 'buildx' is not a docker command."),
        ("/usr/bin/docker", "version"): Completed(0, VERSION_20, ""),
        ("/usr/bin/docker", "info"): Completed(0, "/var/lib/docker\n", ""),
    })
    engine = detect_docker(runner, ["/usr/local/bin/docker", "/usr/bin/docker"])
    assert engine.client == "/usr/bin/docker" and engine.mode == "buildkit-env"
    assert engine.env == {"DOCKER_BUILDKIT": "1"} and engine.capabilities.secret_mounts
    assert not engine.capabilities.bake


def test_new_client_without_buildx_has_no_buildkit() -> None:
    engine = docker_engine(ClientProbe("/usr/local/bin/docker", "28.2.2", "28.2.2"))
    assert engine.mode == "legacy" and not engine.capabilities.secret_mounts


def test_no_client_and_daemon_down_say_what_to_do() -> None:
    with pytest.raises(EngineError) as info:
        detect_docker(recorded({}), [])
    assert "apt-get install" in (info.value.hint or "")
    down = recorded({("/usr/bin/docker", "version"): Completed(
        1, VERSION_28_NO_SERVER, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")})
    with pytest.raises(EngineError) as info:
        detect_docker(down, ["/usr/bin/docker"])
    assert "does not answer" in info.value.message and "dockerd" in (info.value.hint or "")
    assert probe_docker("/usr/bin/docker", down).server_error.startswith("Cannot connect")


def test_prepare_build_refuses_an_engine_without_secret_mounts() -> None:
    legacy = docker_engine(ClientProbe("/usr/local/bin/docker", "28.2.2", "28.2.2"))
    with pytest.raises(EngineError) as info:
        prepare_build("cpu-inference", BuildOptions(), engine=legacy)
    assert "secret mounts" in info.value.message and "podman" in (info.value.hint or "")


def test_prepare_build_maps_bases_and_indexes(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "none.toml"))
    options = BuildOptions(base_map=("python:3.11-slim-bookworm=local/py",),
                           index_map=("https://download.pytorch.org/whl/cpu=https://pypi.org/simple",),
                           build_args=("NOT_DECLARED=1",), max_jobs=3)
    prepared = prepare_build("cpu-inference", options, engine=make_engine())
    assert prepared.build_args["BASE_IMAGE"] == "local/py"
    assert prepared.build_args["TORCH_INDEX_URL"] == "https://pypi.org/simple"
    assert prepared.plan.max_jobs == 3
    assert any("PyPI serves the cu130 build" in w for w in prepared.warnings), "no wheelhouse: wrong variant"
    assert any("NOT_DECLARED" in w for w in prepared.warnings)
    assert prepared.tags[0] == "dockyard/cpu-inference:latest"


BUILDKIT_LOG = """\
#4 [base 1/3] FROM docker.io/dockyard/bookworm-python:3.11
#4 DONE 0.0s
#6 [base 2/3] RUN --mount=type=cache,target=/var/cache/apt apt-get update
#6 CACHED
#9 [builder 2/4] RUN --mount=type=secret,id=ca sh fetch.sh pip install torch
#9 1.234 Collecting torch
#9 DONE 7.5s
#10 [builder 3/4] RUN pip install transformers
#10 2.000 ERROR: No matching distribution found for transformers==9
#10 ERROR: process "/bin/sh -c pip install transformers" did not complete successfully: exit code: 1
"""

BUILDAH_LOG = """\
[1/3] STEP 1/5: FROM dockyard/bookworm-python:3.11 AS base
[1/3] STEP 4/5: RUN apt-get update
--> Using cache 9cc9a0ed4068
--> 9cc9a0ed406
[2/3] STEP 3/12: RUN pip install torch
Collecting torch
--> 051249a1fdd
[2/3] STEP 11/12: RUN pip install transformers
Error: building at STEP "RUN pip install transformers": exit status 1
"""


def test_progress_follows_buildkit_steps() -> None:
    progress = Progress(clock=lambda: 0.0)
    for line in BUILDKIT_LOG.splitlines():
        progress.feed(line)
    progress.finish(ok=False)
    statuses = {s.label.split("] ")[0] + "]": s.status for s in progress.steps}
    assert statuses == {"[base 1/3]": "done", "[base 2/3]": "cached", "[builder 2/4]": "done",
                        "[builder 3/4]": "error"}
    assert progress.cache_hits() == (1, 3)
    failed = progress.failed()
    assert failed is not None and failed.last_line.startswith("ERROR: No matching distribution")


def test_progress_follows_buildah_steps() -> None:
    progress = Progress(clock=lambda: 0.0)
    for line in BUILDAH_LOG.splitlines():
        progress.feed(line)
    progress.finish(ok=False)
    assert [s.status for s in progress.steps] == ["done", "cached", "done", "error"]
    assert progress.cache_hits() == (1, 3)


def test_history_entries_read_like_dockerfile_lines() -> None:
    created = ("|2 TORCH_VERSION=2.13.0 MAX_JOBS=2 /bin/sh -c sh /run/dockyard/fetch.sh pip install torch "
               "# buildkit")
    assert instruction_text(created) == "RUN sh /run/dockyard/fetch.sh pip install torch"
    assert instruction_text("/bin/sh -c #(nop)  ENV A=1") == "ENV A=1"
    assert without_mounts("RUN --mount=type=cache,target=/x --mount=type=secret,id=ca  echo hi") == "RUN echo hi"


def test_verify_runs_runtime_images_read_only_with_a_cache_volume() -> None:
    backend_engine = make_engine()

    class Backend:
        engine = backend_engine

    options, read_only = run_options({"profile": "runtime", "user": "dockyard", "torch_build": "cpu"},
                                     Backend(), gpu=False)  # type: ignore[arg-type]
    assert read_only and "--read-only" in options
    assert options[options.index("--volume") + 1] == "/home/dockyard/.cache/huggingface"
    options, read_only = run_options({"profile": "ci", "torch_build": "cuda"}, Backend(), gpu=True)  # type: ignore[arg-type]
    assert not read_only and "--gpus" in options


def test_podman_builds_share_caches_unlocked(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Buildah 1.28 hangs on a second `sharing=locked` mount of one cache within a build."""
    from dockyard.engine.detect import podman_engine

    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "none.toml"))
    podman = prepare_build("cpu-inference", BuildOptions(), engine=podman_engine("/usr/bin/podman", "4.3.1"))
    assert "sharing=locked" not in podman.rendered.dockerfile and "sharing=shared" in podman.rendered.dockerfile
    docker = prepare_build("cpu-inference", BuildOptions(), engine=make_engine())
    assert "sharing=shared" not in docker.rendered.dockerfile and "sharing=locked" in docker.rendered.dockerfile
