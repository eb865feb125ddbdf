"""Deployments of every target without an engine, from real serve specs resolved against the knowledge
base: `make_deployment(target, kind=path|hub|mount, **serve_keys)`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.deploy.model import Deployment, from_plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

MakeDeployment = Callable[..., Deployment]
MODELS = {"path": "path:model", "hub": "hub:org/tiny@" + "a" * 40, "mount": "mount:/models/tiny"}
# The server has no default device for TPUs (knowledge/serve.toml); the deploy side does not care which.
DEVICES = {"tpu": "auto"}


def serve_spec(folder: Path, target: str, kind: str, **serve: object) -> Path:
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    lines = ["[image]", 'name = "tiny-chat"', f'target = "{target}"', 'profile = "serve"', "", "[serve]",
             f'model = "{MODELS[kind]}"']
    if target in DEVICES and "device" not in serve:
        serve["device"] = DEVICES[target]
    for key, value in serve.items():
        spelled = str(value).lower() if isinstance(value, bool) else value if isinstance(value, int) else f'"{value}"'
        lines.append(f"{key.replace('_', '-')} = {spelled}")
    path = folder / f"{target}-{kind}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_deployment(tmp_path: Path) -> MakeDeployment:
    def make(target: str = "cpu", kind: str = "path", accelerators: int = 1, **serve: object) -> Deployment:
        return from_plan(resolve(load(str(serve_spec(tmp_path, target, kind, **serve)))), accelerators=accelerators)

    return make
