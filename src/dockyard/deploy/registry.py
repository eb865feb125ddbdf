"""Images that reach a cluster: push a spec's built image to a registry and remember the manifest digest
the registry gave it, then name it by that digest in what `deploy` writes (REGISTRY/NAME@sha256:...),
so every node runs the same bytes and `imagePullPolicy: IfNotPresent` is safe.

The record is a small JSON file (the CLI passes its path: $XDG_STATE_HOME/dockyard/pushed.json); a
machine without it still finds the digest in the engine's RepoDigests of the local image (docker keeps
them after a push or a pull by digest). Where no digest is known, the reference is the tag and the
output says so (pull policy Always)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.engine.detect import Engine
from dockyard.errors import EngineError
from dockyard.spec.references import image_reference, registry

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
PUSH_TIMEOUT = 3600


@dataclass(frozen=True)
class ImageRef:
    reference: str  # what the manifests name
    pinned: bool  # by digest: the same bytes on every node
    note: str = ""  # what the CLI and the files' header say about it

    @property
    def pull_policy(self) -> str:
        """A digest never moves, so a node's copy is the right one; a tag may: ask the registry each time."""
        return "IfNotPresent" if self.pinned else "Always"


def remote_tag(registry_name: str, name: str, tag: str) -> str:
    prefix = registry(registry_name.rstrip("/"), "--registry")
    return image_reference(f"{prefix}/{name}:{tag}", "--registry")


def loopback(reference: str) -> bool:
    """A registry on this machine (docker trusts those without TLS; podman needs --tls-verify=false)."""
    host = reference.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def push_argv(engine: Engine, reference: str, digest_file: Path) -> list[str]:
    if engine.kind == "podman":
        tls = ["--tls-verify=false"] if loopback(reference) else []
        return [engine.client, "push", *tls, "--digestfile", str(digest_file), reference]
    return [engine.client, "push", reference]


def push(engine: Engine, local: str, reference: str, on_line: Callable[[str], None] = lambda line: None) -> str:
    """Tag `local` as `reference`, push it, and return the manifest digest the registry answered with."""
    tagged = subprocess.run([engine.client, "tag", local, reference], capture_output=True, text=True, timeout=120)
    if tagged.returncode != 0:
        raise EngineError(f"cannot tag {local} as {reference}: {tagged.stderr.strip()}")
    with tempfile.TemporaryDirectory(prefix="dockyard-push-") as folder:
        digest_file = Path(folder) / "digest"
        argv = push_argv(engine, reference, digest_file)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=PUSH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise EngineError(f"pushing {reference} did not finish within {PUSH_TIMEOUT} s") from None
        for line in (done.stdout + done.stderr).splitlines():
            on_line(line)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[-1]
            raise EngineError(f"pushing {reference} failed: {last}",
                              "check the registry's name and that you are logged in (docker login REGISTRY)")
        text = digest_file.read_text().strip() if digest_file.is_file() else done.stdout
    found = DIGEST.findall(text)
    if not found:
        raise EngineError(f"pushed {reference}, but the engine printed no manifest digest",
                          f"look it up with: {engine.client} image inspect {reference} --format "
                          "'{{json .RepoDigests}}'")
    return str(found[-1])


def read_record(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(path: Path, reference: str, digest: str, image_id: str) -> None:
    """Remember REFERENCE's digest (written atomically; other entries kept)."""
    data = read_record(path)
    data[reference] = {"digest": digest, "image_id": image_id}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".pushed-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(dict(sorted(data.items())), out, indent=1, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)


def pinned(reference: str, digest: str) -> str:
    """REGISTRY/NAME:TAG + sha256:... -> REGISTRY/NAME@sha256:... (the tag is dropped: the digest decides)."""
    repository = reference.rsplit(":", 1)[0] if ":" in reference.rsplit("/", 1)[-1] else reference
    return f"{repository}@{digest}"


def repo_digest(inspected: dict[str, Any] | None, reference: str) -> str | None:
    """The digest an engine recorded for the repository of `reference` (RepoDigests of the local image)."""
    if not inspected:
        return None
    repository = reference.rsplit(":", 1)[0]
    for entry in inspected.get("RepoDigests") or []:
        name, _, digest = str(entry).partition("@")
        if name == repository and DIGEST.fullmatch(digest):
            return digest
    return None


def deploy_image(explicit: str | None, registry_name: str | None, name: str, tag: str, local: str,
                 state: Path | None, inspect: Callable[[str], dict[str, Any] | None] | None) -> ImageRef:
    """The reference a deployment names, and whether it is pinned by digest.

    explicit (--image) wins: pinned when it carries a digest. With a registry, the recorded digest of
    REGISTRY/NAME:TAG, else the engine's RepoDigests of `local`, else the tag with a note. Without
    either, the local tag `dockyard build` gives (pullable only where it was built)."""
    if explicit:
        image_reference(explicit, "--image")
        if "@" in explicit:
            return ImageRef(explicit, True)
        return ImageRef(explicit, False, f"{explicit} is a tag, not a digest: nodes may run different builds if it "
                        "moves (imagePullPolicy Always); give --image NAME@sha256:... or use --registry after "
                        "`dockyard push`")
    if registry_name:
        reference = remote_tag(registry_name, name, tag)
        entry = read_record(state).get(reference) if state is not None else None
        if isinstance(entry, dict) and DIGEST.fullmatch(str(entry.get("digest", ""))):
            return ImageRef(pinned(reference, str(entry["digest"])), True)
        digest = repo_digest(inspect(local) if inspect is not None else None, reference)
        if digest:
            return ImageRef(pinned(reference, digest), True)
        return ImageRef(reference, False, f"no digest known for {reference}: it was not pushed from here. Push it "
                        "(dockyard push SPEC --registry REGISTRY) and deploy again to pin it by digest; until then "
                        "the output names the tag (imagePullPolicy Always)")
    return ImageRef(local, False, f"{local} exists only where it was built: push it (dockyard push SPEC --registry "
                    "REGISTRY) and deploy with --registry REGISTRY, or give --image")
