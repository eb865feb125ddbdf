"""Secret hygiene, proven on real images (issue 7): a build handed a CA bundle (a throwaway CA made here
plus the proxy's real bundle, so pip still trusts the proxy), a fake token as a build secret, and a netrc
holding the token (mounted where pip runs) leaves neither the token nor the CA anywhere in `docker save`
output: no layer, not the config, not the history. `dockyard audit --secret-value` agrees. A positive
control, an image that does carry the token (in a file a later layer deletes) and the CA, proves the
search and the audit find them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine.detect import Engine
from dockyard.engine.maps import load_maps, site_default

from .conftest import Result

FAKE_TOKEN = "hf_" + "Zq8Lw3Nx7Rb2Kd5Mv9Tc4Hy6Pj1Fs0GaUe"  # the shape of a Hugging Face token; not a real one
SPEC = """[image]
name = "secrets-test"
target = "cpu"
python = "3.11"
torch = "none"
transformers = "5.24.0"
"""


def throwaway_ca(folder: Path) -> Path:
    if not shutil.which("openssl"):
        if os.environ.get("DOCKYARD_ENGINE_TESTS") == "require":
            pytest.fail("openssl is needed to make a throwaway CA")
        pytest.skip("openssl not installed")
    ca = folder / "throwaway-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "key.pem"),
                    "-out", str(ca), "-days", "1", "-subj", "/CN=dockyard throwaway test CA"],
                   check=True, capture_output=True)
    return ca


def distinctive_lines(pem: str) -> list[bytes]:
    """Two 64-character lines from the middle of the certificate body: found wherever the PEM lands."""
    body = re.search(r"-----BEGIN CERTIFICATE-----\n(.*?)\n-----END", pem, re.DOTALL)
    assert body
    lines = [line for line in body.group(1).splitlines() if len(line) == 64]
    return [lines[len(lines) // 2].encode(), lines[len(lines) // 2 + 1].encode()]


def saved_parts(engine: Engine, image: str, folder: Path) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every file in every layer, the config (with the history) and the manifest."""
    archive = folder / "image.tar"
    subprocess.run([engine.client, "save", "-o", str(archive), image], check=True, capture_output=True)
    with tarfile.open(archive) as outer:
        for member in outer:
            handle = outer.extractfile(member) if member.isreg() else None
            if handle is None:
                continue
            if member.name.endswith(".tar") or "/blobs/" in member.name:
                try:
                    inner = tarfile.open(fileobj=handle)  # noqa: SIM115 - closed by the with below
                except tarfile.ReadError:
                    handle.seek(0)
                    yield member.name, handle.read()
                    continue
                with inner:
                    for item in inner:
                        content = inner.extractfile(item) if item.isreg() else None
                        if content is not None:
                            yield f"{member.name}:{item.name}", content.read()
            else:
                yield member.name, handle.read()  # config (history inside), manifest, repositories
    yield "whole archive", archive.read_bytes()
    archive.unlink()


def leaks(parts: Iterator[tuple[str, bytes]], needles: dict[str, bytes]) -> list[str]:
    return [f"{name} in {where}" for where, data in parts for name, needle in needles.items() if needle in data]


def audit(cli, image: str, ca: Path) -> Result:  # type: ignore[no-untyped-def]
    result: Result = cli(["audit", image, "--json", "--secret-env", "DOCKYARD_TEST_TOKEN", "--secret-value", f"@{ca}"])
    return result


def test_build_secrets_never_land_in_the_image(cli, images, docker: Engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ca = throwaway_ca(tmp_path)
    proxy = Path(site_default("ca-cert") or os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(ca.read_text() + proxy.read_text())
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine private-index.invalid login ci password {FAKE_TOKEN}\n")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("DOCKYARD_TEST_TOKEN", FAKE_TOKEN)
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    tag = "dockyard-test/secrets:latest"
    images.append((docker.client, tag))
    log = tmp_path / "build.log"
    result = cli(["build", str(spec), "--backend", "docker", "--tag", tag, "--ca-cert", str(bundle), "--secret",
                  "id=hf_token,env=HF_TOKEN", "--secret", f"id=netrc,src={netrc}", "--log", str(log), "--json"])
    assert result.code == 0, result.err
    assert result.json()["verify"]["ok"]
    needles = {"token": FAKE_TOKEN.encode(), **{f"CA line {i}": line
                                                for i, line in enumerate(distinctive_lines(ca.read_text()))}}
    assert leaks(saved_parts(docker, tag, tmp_path), needles) == []
    assert FAKE_TOKEN not in log.read_text() and FAKE_TOKEN not in result.out + result.err
    report = audit(cli, tag, ca)
    assert report.code == 0, report.out
    findings = report.json()["findings"]
    assert [f for f in findings if f["kind"] == "given value"] == []
    assert all(f["owner"] for f in findings), "only public package content, nothing the build added"


def test_the_scan_finds_a_token_and_a_ca_that_are_there(cli, images, docker: Engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ca = throwaway_ca(tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(ca, context / "ca.pem")
    base = load_maps((), ()).base_image("python:3.11-slim-bookworm")
    (context / "Dockerfile").write_text(
        f"FROM {base}\n"
        f"RUN echo 'machine hub login ci password {FAKE_TOKEN}' > /root/.netrc\n"
        "COPY ca.pem /usr/local/share/ca-certificates/company.crt\n"
        "RUN rm /root/.netrc\n")
    tag = "dockyard-test/secrets-control:latest"
    images.append((docker.client, tag))
    subprocess.run([docker.client, "build", "-q", "-t", tag, str(context)], check=True, capture_output=True,
                   env={**os.environ, **docker.env})
    needles = {"token": FAKE_TOKEN.encode(), "CA": distinctive_lines(ca.read_text())[0]}
    found = leaks(saved_parts(docker, tag, tmp_path), needles)
    assert any(item.startswith("token in ") and item.endswith("root/.netrc") for item in found), found
    assert any(item.startswith("CA in ") and item.endswith("company.crt") for item in found), found
    monkeypatch.setenv("DOCKYARD_TEST_TOKEN", FAKE_TOKEN)
    report = audit(cli, tag, ca)
    assert report.code == 1, "a secret fails the audit"
    findings = report.json()["findings"]
    where = {(f["kind"], f["where"].split(" ", 2)[-1]) for f in findings}
    assert ("Hugging Face token", "/root/.netrc") in where and ("credential file", "/root/.netrc") in where
    assert ("given value", "/usr/local/share/ca-certificates/company.crt") in where
    deleted = [f for f in findings if f["where"].startswith("layer") and f["where"].endswith("/root/.netrc")]
    assert all("still stored in the image" in f["note"] for f in deleted)
    assert FAKE_TOKEN[3:11] not in report.out, "the audit never prints the secret, not even a part"
    history = [f for f in findings if f["where"].startswith("history step")]
    assert history and all("***" in f["where"] for f in history), "the history finding shows where, redacted"
