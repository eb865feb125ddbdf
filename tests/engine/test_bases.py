"""An engine's first use of a local base (issue 24): a base only docker holds is copied into podman
(`docker save | podman load`, seconds) instead of being bootstrapped a second time, with the same id."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

from dockyard.engine.bases import supply_bases
from dockyard.engine.detect import Engine

BASE = "dockyard/bookworm-python:3.11"  # scripts/setup.sh bootstraps it in docker
TAG = os.environ.get("DOCKYARD_TEST_TAG", "dockyard-test")


def image_id(engine: Engine, image: str) -> str:
    done = subprocess.run([engine.client, "image", "inspect", image], capture_output=True, text=True, check=True)
    return str(json.loads(done.stdout)[0]["Id"]).removeprefix("sha256:")


def test_a_base_only_docker_holds_is_copied_into_podman(docker: Engine, podman: Engine) -> None:
    name = f"{TAG}/base-copy-{uuid.uuid4().hex[:8]}:test"
    subprocess.run([docker.client, "tag", BASE, name], check=True, capture_output=True)
    try:
        copied = supply_bases([name], podman)
        assert [c.image for c in copied] == [name] and copied[0].source == "docker"
        assert image_id(podman, name) == image_id(docker, name), "the same bytes in both stores"
        assert supply_bases([name], podman) == [], "nothing to do the second time"
        assert "copied into podman" in copied[0].note()
    finally:
        subprocess.run([podman.client, "image", "rm", name], capture_output=True)
        subprocess.run([docker.client, "image", "rm", name], capture_output=True)
