"""Local base images shared between the two engines on one machine.

A base that the engine about to build lacks but the other engine holds (docker and podman keep separate
stores) is copied across with `save | load` instead of being bootstrapped again: measured here, the
169 MB local Debian base copies from docker into podman in 3 to 9 s, where a second debootstrap takes
about a minute (docs/performance.md). The copy keeps the image's id, so both engines build on the same
bytes. `dockyard build` and `dockyard base bootstrap` do it the first time an engine needs the base.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.engine.backends import backend_for
from dockyard.engine.detect import Engine, detect
from dockyard.errors import EngineError

OTHER = {"docker": "podman", "podman": "docker"}


@dataclass(frozen=True)
class Copied:
    image: str
    source: str  # the engine it came from
    target: str
    seconds: float

    def note(self) -> str:
        return (f"base image {self.image} was only in {self.source}'s store: copied into {self.target} "
                f"({self.source} save | {self.target} load, {self.seconds:.0f}s)")


def other_engine(engine: Engine, find: Callable[[str], Engine] = detect) -> Engine | None:
    """The machine's other engine, or None when it is not installed or does not answer."""
    try:
        return find(OTHER[engine.kind])
    except EngineError:
        return None


def copy_image(image: str, source: Engine, target: Engine) -> Copied:
    """`source save IMAGE | target load`, then the name as asked (podman loads docker's names under
    `localhost/`, which it also answers to; docker keeps whatever name podman saved)."""
    started = time.monotonic()
    save = subprocess.Popen([source.client, "save", image], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **source.env})
    assert save.stdout is not None
    load = subprocess.run([target.client, "load"], stdin=save.stdout, capture_output=True, text=True,
                          env={**os.environ, **target.env})
    save.stdout.close()
    saved_error = save.stderr.read().decode(errors="replace") if save.stderr else ""
    if save.wait() != 0 or load.returncode != 0:
        why = (saved_error or load.stderr or load.stdout).strip()[-400:]
        raise EngineError(f"copying {image} from {source.kind} into {target.kind} failed: {why}",
                          f"make it there instead: dockyard base bootstrap {image} --with-python "
                          f"--backend {target.kind}")
    backend = backend_for(target)
    if backend.inspect(image) is None:
        loaded = [line.split(":", 1)[1].strip() for line in load.stdout.splitlines()
                  if line.startswith("Loaded image")]
        if loaded:
            subprocess.run([target.client, "tag", loaded[-1], image], capture_output=True,
                           env={**os.environ, **target.env})
    if backend.inspect(image) is None:
        raise EngineError(f"{target.kind} loaded {image} from {source.kind} but does not find it under that name",
                          f"load output: {load.stdout.strip()[-200:]}")
    return Copied(image, source.kind, target.kind, round(time.monotonic() - started, 1))


def supply_bases(images: list[str], engine: Engine, find: Callable[[str], Engine] = detect) -> list[Copied]:
    """Copy each of `images` that `engine` lacks from the other engine, when that one has it."""
    backend = backend_for(engine)
    missing = [image for image in dict.fromkeys(images) if backend.inspect(image) is None]
    if not missing:
        return []
    other = other_engine(engine, find)
    if other is None:
        return []
    source = backend_for(other)
    return [copy_image(image, other, engine) for image in missing if source.inspect(image) is not None]
