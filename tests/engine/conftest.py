"""Engine tests build real images. Every test here is marked `engine`.

They need a container engine set up by `scripts/setup.sh` (CI runs it first). Without one they are
skipped, unless DOCKYARD_ENGINE_TESTS=require (set by .ci/run), which turns a missing engine into a
failure so a CI run can never pass by skipping the real builds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.cli import main
from dockyard.engine.detect import Engine, detect
from dockyard.errors import EngineError

SPECS = Path(__file__).parent / "specs"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.engine)


def _engine(backend: str) -> Engine:
    try:
        return detect(backend)
    except EngineError as exc:
        if os.environ.get("DOCKYARD_ENGINE_TESTS") == "require":
            pytest.fail(f"engine tests are required but {backend} is not usable: {exc}")
        pytest.skip(f"{backend} not usable: {exc.message}")


@pytest.fixture(scope="session")
def docker() -> Engine:
    return _engine("docker")


@pytest.fixture(scope="session")
def podman() -> Engine:
    return _engine("podman")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(args: Sequence[str]) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return run


@pytest.fixture
def images() -> Iterator[list[tuple[str, str]]]:
    """Collects (engine client, image) pairs a test made; they are removed afterwards."""
    made: list[tuple[str, str]] = []
    yield made
    for client, image in made:
        subprocess.run([client, "image", "rm", "--force", image], capture_output=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """HOST:PORT of a real registry on loopback (Debian's docker-registry): the one scripts/test.sh started
    for the run (DOCKYARD_TEST_REGISTRY), else one started here through scripts/registry.sh."""
    given = os.environ.get("DOCKYARD_TEST_REGISTRY")
    if given:
        yield given
        return
    import tempfile

    script = Path(__file__).parents[2] / "scripts" / "registry.sh"
    folder = tempfile.mkdtemp(prefix="dockyard-registry-")
    done = subprocess.run(["bash", str(script), "start", folder], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        message = f"no registry: {done.stderr.strip()[-500:]}"
        if os.environ.get("DOCKYARD_ENGINE_TESTS") == "require":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield done.stdout.strip()
    finally:
        subprocess.run(["bash", str(script), "stop", folder], capture_output=True, timeout=60)
