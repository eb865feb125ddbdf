"""Which image reference a deployment names: --image, the digest `dockyard push` recorded, the engine's
RepoDigests, or the tag with a note; the push command lines; the record file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.deploy.registry import (
    deploy_image,
    loopback,
    pinned,
    push_argv,
    read_record,
    record,
    remote_tag,
)
from dockyard.engine.detect import Capabilities, Engine
from dockyard.errors import InputError

DIGEST = "sha256:" + "1f" * 32
OTHER = "sha256:" + "2e" * 32
LOCAL = "dockyard/tiny-chat:0123456789ab"


def engine(kind: str) -> Engine:
    caps = Capabilities(True, True, True, True, False, False)
    return Engine("docker", "docker", "20.10", "20.10", "buildkit-env", caps) if kind == "docker" else \
        Engine("podman", "podman", "4.3", "4.3", "buildah", caps)


def choose(registry: str | None = None, image: str | None = None, state: Path | None = None,
           inspected: dict[str, Any] | None = None) -> Any:
    return deploy_image(image, registry, "tiny-chat", "0123456789ab", LOCAL, state, lambda local: inspected)


def test_recorded_digest_wins(tmp_path: Path) -> None:
    state = tmp_path / "pushed.json"
    record(state, "ghcr.io/acme/tiny-chat:0123456789ab", DIGEST, "sha256:local")
    record(state, "ghcr.io/acme/other:1", OTHER, "sha256:x")
    assert sorted(read_record(state)) == ["ghcr.io/acme/other:1", "ghcr.io/acme/tiny-chat:0123456789ab"]
    found = choose("ghcr.io/acme", state=state, inspected={"RepoDigests": [f"ghcr.io/acme/tiny-chat@{OTHER}"]})
    assert found.reference == f"ghcr.io/acme/tiny-chat@{DIGEST}" and found.pinned and not found.note
    assert found.pull_policy == "IfNotPresent"


def test_engine_repo_digest_when_nothing_is_recorded(tmp_path: Path) -> None:
    inspected = {"RepoDigests": [f"elsewhere/tiny-chat@{OTHER}", f"127.0.0.1:5000/tiny-chat@{DIGEST}"]}
    found = choose("127.0.0.1:5000", state=tmp_path / "none.json", inspected=inspected)
    assert found.reference == f"127.0.0.1:5000/tiny-chat@{DIGEST}" and found.pinned


def test_no_digest_known_is_said() -> None:
    found = choose("ghcr.io/acme")
    assert found.reference == "ghcr.io/acme/tiny-chat:0123456789ab" and not found.pinned
    assert "no digest known" in found.note and found.pull_policy == "Always"
    local = choose()
    assert local.reference == LOCAL and "exists only where it was built" in local.note


def test_explicit_image() -> None:
    assert choose(image=f"r.example/x@{DIGEST}").pinned
    tagged = choose(image="r.example/x:1")
    assert not tagged.pinned and "is a tag, not a digest" in tagged.note
    with pytest.raises(InputError, match="not an image reference"):
        choose(image="r.example/x:1 AS y")


@pytest.mark.parametrize("value", ["https://ghcr.io/acme", "ghcr.io/Acme", "ghcr.io/acme:latest", "a b", ""])
def test_bad_registry(value: str) -> None:
    with pytest.raises(InputError):
        remote_tag(value, "tiny-chat", "1")


def test_registry_forms() -> None:
    assert remote_tag("127.0.0.1:5000", "m", "t") == "127.0.0.1:5000/m:t"
    assert remote_tag("ghcr.io/acme/team/", "m", "t") == "ghcr.io/acme/team/m:t"
    assert remote_tag("localhost:5000", "m", "t") == "localhost:5000/m:t"
    assert pinned("127.0.0.1:5000/m:t", DIGEST) == f"127.0.0.1:5000/m@{DIGEST}"


def test_push_argv(tmp_path: Path) -> None:
    digest_file = tmp_path / "d"
    assert push_argv(engine("docker"), "127.0.0.1:5000/m:t", digest_file) == ["docker", "push", "127.0.0.1:5000/m:t"]
    assert push_argv(engine("podman"), "127.0.0.1:5000/m:t", digest_file) == [
        "podman", "push", "--tls-verify=false", "--digestfile", str(digest_file), "127.0.0.1:5000/m:t"]
    assert "--tls-verify=false" not in push_argv(engine("podman"), "ghcr.io/a/m:t", digest_file), \
        "TLS is skipped only for a registry on this machine"
    assert loopback("localhost:5000/m") and loopback("[::1]:5000/m") and not loopback("10.0.0.1:5000/m")
