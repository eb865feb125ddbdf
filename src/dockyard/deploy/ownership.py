"""One ownership rule for what dockyard creates on an engine (containers and volumes), like render's
manifest for files: dockyard labels what it creates with the spec that made it (its absolute path, or
`preset NAME`) and that spec's digest, and it stops, removes or replaces only what carries its label
for the same spec. Anything else with the same name (a hand-made container, another spec whose name
maps to the same container name) is left as it is and is an error naming its owner, with a hint that
never tells the user to destroy it.

A container also records the options it was started with (`OPTIONS`, readable JSON: image, address,
port, model folder, ...) and a random token of the `dockyard up` run that created it (`RUN`): a second
`up` with other options is refused instead of replacing a healthy container, and a run removes only the
container it created itself (a failed start, Ctrl-C), never one of the same name created meanwhile.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockyard.deploy.model import Deployment

SPEC = "dev.dockyard.up.spec"  # the spec: absolute path, or "preset NAME"
DIGEST = "dev.dockyard.up.spec-digest"  # sha256:... of the spec when the container was started
OPTIONS = "dev.dockyard.up.options"  # JSON of the run options (containers only)
RUN = "dev.dockyard.up.run"  # the token of the `up` run that created the container


def spec_identity(source: str) -> str:
    """What identifies a spec across runs: its file's absolute path (links resolved), or `preset NAME`."""
    if source.startswith("preset "):
        return source
    return str(Path(source).resolve())


def new_run_token() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Owner:
    """Who made a container or volume, read from its labels (None fields when it has no dockyard label)."""

    spec: str | None
    digest: str | None
    options: dict[str, str]
    run: str | None

    def describe(self) -> str:
        return f"`dockyard up` of {self.spec}" if self.spec else "not dockyard (it has no dockyard label)"


def owner(labels: Mapping[str, str] | None) -> Owner:
    labels = labels or {}
    try:
        options = json.loads(labels.get(OPTIONS, "{}"))
    except json.JSONDecodeError:
        options = {}
    return Owner(labels.get(SPEC) or None, labels.get(DIGEST) or None,
                 {str(k): str(v) for k, v in options.items()} if isinstance(options, dict) else {},
                 labels.get(RUN) or None)


def owns(found: Owner, deployment: Deployment) -> bool:
    """The one rule: dockyard may stop, remove or replace it only when it carries this spec's label."""
    return found.spec is not None and found.spec == spec_identity(deployment.source)


def volume_labels(deployment: Deployment) -> dict[str, str]:
    return {SPEC: spec_identity(deployment.source), DIGEST: deployment.spec_digest}


def container_labels(deployment: Deployment, options: Mapping[str, str], run: str) -> dict[str, str]:
    return {**volume_labels(deployment), OPTIONS: json.dumps(dict(sorted(options.items())), sort_keys=True),
            RUN: run}


def changed_options(found: Owner, wanted: Mapping[str, str]) -> list[str]:
    """`port: 8001 -> 8002` for each run option that differs."""
    keys = sorted(set(found.options) | set(wanted))
    return [f"{key}: {found.options.get(key, '(none)')} -> {wanted.get(key, '(none)')}" for key in keys
            if found.options.get(key) != wanted.get(key)]
