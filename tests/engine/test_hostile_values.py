"""Hostile ENV and LABEL values written by dockyard's Dockerfile writer, built by the real engines: the
image's config holds each value exactly, nothing expanded (`$HOME`), nothing cut at a quote or a space."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dockyard.engine.detect import Engine
from dockyard.render.dockerfile import emit
from dockyard.render.instructions import Env, Label, Stage

BASE = "dockyard/bookworm-python:3.11"  # made by scripts/setup.sh with `dockyard base bootstrap`
VALUES = {
    "DOLLAR": "$HOME and ${PATH} and $(id)",
    "QUOTES": 'say "hi" and \'bye\'',
    "BACKSLASH": "C:\\path\\$x \\",
    "SPACES": "  a  b  ",
    "UNICODE": "ünïcødé ✓ 𐀀",
    "EMPTY": "",
}


def built_config(engine: Engine, tmp_path: Path, tag: str) -> dict[str, object]:
    dockerfile = emit("hostile values", (), (Stage("runtime", BASE, (
        Env(tuple(VALUES.items())), Label(tuple((f"org.test.{k.lower()}", v) for k, v in VALUES.items())))),))
    (tmp_path / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    env = {**os.environ, **engine.env}
    done = subprocess.run([engine.client, "build", "-t", tag, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    inspect = subprocess.run([engine.client, "image", "inspect", tag], capture_output=True, text=True, check=True)
    config: dict[str, object] = json.loads(inspect.stdout)[0]["Config"]
    return config


@pytest.mark.parametrize("backend", ["docker", "podman"])
def test_values_reach_the_image_config_exactly(backend: str, request: pytest.FixtureRequest,
                                               images: list[tuple[str, str]], tmp_path: Path) -> None:
    engine: Engine = request.getfixturevalue(backend)
    tag = f"issue-17/hostile-values-{backend}:test"
    images.append((engine.client, tag))
    config = built_config(engine, tmp_path, tag)
    env = dict(item.split("=", 1) for item in config["Env"])  # type: ignore[attr-defined]
    labels = config["Labels"]
    for key, value in VALUES.items():
        assert env[key] == value, f"ENV {key}"
        assert labels[f"org.test.{key.lower()}"] == value, f"LABEL {key}"  # type: ignore[index]
