"""A `hub:` model with a token, on a machine that cannot reach the Hub (issue 10): the build downloads the
tiny model from a local stand-in of the Hub (tests/engine/fakehub.py, on the container bridge, reached
through the model stage's HF_ENDPOINT build argument), with the token given only as the BuildKit secret
`hf_token`. The stand-in sees the token in the Authorization header, so the secret really reached the
download; then the token is nowhere in `docker save` output (layers, config, history) nor in the build
log, `dockyard audit` agrees, and the image's verify served the downloaded model read-only.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from dockyard.engine.detect import Engine

from .fakehub import FakeHub, serve_hub
from .test_secrets import FAKE_TOKEN, audit
from .tinymodel import make_tiny_llama

COMMIT = "3f1c0de5a1b2c3d4e5f60718293a4b5c6d7e8f90"
SPEC = """[image]
name = "serve-hub"
extends = "cpu-serve"
[serve]
model = "hub:dockyard-test/tiny-llama@{commit}"
"""


def streamed_leaks(engine: Engine, image: str, needle: bytes) -> list[str]:
    """The members of `docker save` output (layer tars, the config with the history, the manifest) whose
    bytes contain `needle`, read as a stream so no copy of the image lands on disk. Layers are uncompressed
    tars, which store each file's bytes in one piece: a raw scan finds a file's content."""
    import tarfile
    import tempfile

    found: list[str] = []
    with tempfile.TemporaryFile() as errors, \
            subprocess.Popen([engine.client, "save", image], stdout=subprocess.PIPE, stderr=errors) as save:
        assert save.stdout is not None
        try:
            with tarfile.open(fileobj=save.stdout, mode="r|") as outer:
                for member in outer:
                    handle = outer.extractfile(member) if member.isreg() else None
                    tail = b""
                    while handle is not None and (chunk := handle.read(1 << 20)):
                        if needle in tail + chunk:
                            found.append(member.name)
                            break
                        tail = chunk[-len(needle):]
        except tarfile.ReadError as exc:
            save.wait()
            errors.seek(0)
            pytest.fail(f"{engine.client} save {image}: {exc}; {errors.read().decode(errors='replace').strip()}")
    assert save.returncode == 0, f"{engine.client} save {image} failed"
    return found


def bridge_gateway(engine: Engine) -> str:
    """The host's address on the engine's default bridge (its gateway; docker leaves it implicit, the first
    address of the subnet, when the daemon made the network itself)."""
    import ipaddress
    import json

    done = subprocess.run([engine.client, "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
                          capture_output=True, text=True, timeout=60)
    configs = json.loads(done.stdout or "[]") if done.returncode == 0 else []
    for config in configs or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        if config.get("Subnet"):
            return str(ipaddress.ip_network(config["Subnet"]).network_address + 1)
    pytest.fail(f"no address of the engine's bridge network: {done.stderr.strip() or done.stdout.strip()}")


def test_hub_token_reaches_the_download_and_never_the_image(cli, images, docker: Engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub("dockyard-test/tiny-llama", COMMIT, make_tiny_llama(tmp_path / "hub-model"))
    spec = tmp_path / "serve-hub.toml"
    spec.write_text(SPEC.format(commit=COMMIT))
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("DOCKYARD_TEST_TOKEN", FAKE_TOKEN)
    tag = "dockyard-test/serve-hub:latest"
    images.append((docker.client, tag))
    log = tmp_path / "build.log"
    with serve_hub(hub, bridge_gateway(docker)):
        result = cli(["build", str(spec), "--backend", "docker", "--tag", tag, "--secret", "id=hf_token,env=HF_TOKEN",
                      "--build-arg", f"HF_ENDPOINT={hub.url}", "--log", str(log), "--json"])
    assert result.code == 0, result.err
    assert any(path.startswith("GET /dockyard-test/tiny-llama/resolve/") for path in hub.paths), hub.paths
    model_requests = [(path, auth) for path, auth in zip(hub.paths, hub.authorizations, strict=True)
                      if hub.repo in path]
    assert model_requests and all(auth == f"Bearer {FAKE_TOKEN}" for _, auth in model_requests), \
        "every request for the model carried the secret token"
    report = result.json()
    checks = {c["name"]: c for c in report["verify"]["checks"]}
    assert report["verify"]["read_only"] and checks["server chat completion"]["ok"], checks
    assert checks["no secret files"]["ok"] and checks["no secret variables"]["ok"]
    assert streamed_leaks(docker, tag, FAKE_TOKEN.encode()) == []
    assert streamed_leaks(docker, tag, b'"LlamaForCausalLM"'), "control: the scan reads the model's layer"
    assert FAKE_TOKEN not in log.read_text() and FAKE_TOKEN not in result.out + result.err
    history = subprocess.run([docker.client, "history", "--no-trunc", tag], capture_output=True, text=True,
                             timeout=60).stdout
    assert "HF_ENDPOINT" not in history, "the download stage's argument stays out of the final image"
    assert "COPY /opt/model /opt/model" in history or "/opt/model" in history
    ca = tmp_path / "none.pem"
    ca.write_text("not a secret\n")
    audited = audit(cli, tag, ca)
    assert audited.code == 0, audited.out
    assert [f for f in audited.json()["findings"] if f["kind"] == "given value"] == []


def test_an_unreachable_hub_is_explained(cli, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 22: a `hub:` build that cannot reach the Hub (here a name that never resolves, as offline or
    behind a firewall) fails with exit 1 and explain's hub-unreachable: the endpoint, the error, and
    dockyard's ways around it (a mirror, a path: or mount: model, the token as a secret)."""
    spec = tmp_path / "serve-offline.toml"
    spec.write_text(SPEC.format(commit=COMMIT).replace('name = "serve-hub"', 'name = "serve-offline-hub"'))
    tag = f"dockyard-test/serve-offline-hub-{secrets.token_hex(3)}:latest"
    result = cli(["build", str(spec), "--backend", "docker", "--tag", tag, "--build-arg",
                  "HF_ENDPOINT=http://hub.invalid", "--log", str(tmp_path / "build.log")])
    subprocess.run([docker.client, "image", "rm", "--force", tag], capture_output=True, timeout=120)
    assert result.code == 1, result.err
    assert "known failure [hub-unreachable]" in result.err
    assert "http://hub.invalid" in result.err and "Name or service not known" in result.err
    assert "HF_ENDPOINT" in result.err and "path:DIR" in result.err and "mount:" in result.err
    assert "an unknown failure" not in result.err and "Traceback" not in result.err
