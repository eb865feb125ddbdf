"""Lock, build from the lock, rebuild without cache, diff, SBOM and audit on real images (issue 7).

One small spec (transformers without torch, the quickest real image) is locked with uv, built twice from
the lock (the second time with --no-cache), and the two images carry the same packages at the locked
versions: `dockyard verify` checks every locked version inside the image, `dockyard diff` compares the
lock with the image and the two images. The build writes a CycloneDX SBOM next to its log; `dockyard
sbom --into-image` puts one into an image; `dockyard audit` passes the runtime hardening checks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dockyard.engine.detect import Engine
from dockyard.engine.maps import load_maps
from dockyard.render.lockfile import parse

SPEC = """[image]
name = "supply-test"
target = "cpu"
python = "3.11"
torch = "none"
transformers = "5.24.0"
lock = "supply-test.lock"
"""


def test_locked_builds_carry_the_same_packages(cli, images, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    locked = cli(["lock", str(spec)])
    assert locked.code == 0, locked.err
    lock = parse((tmp_path / "supply-test.lock").read_text(), "lock")
    assert lock.get("transformers") is not None and all(p.hashes for p in lock.packages)
    assert lock.base_image and lock.base_image[0].ref.startswith("sha256:"), "no registry: the local image id"
    assert cli(["lock", str(spec), "--check"]).code == 0

    first, second = "dockyard-test/supply:first", "dockyard-test/supply:second"
    images += [(docker.client, first), (docker.client, second)]
    built = cli(["build", str(spec), "--backend", "docker", "--tag", first, "--json", "--log", str(tmp_path / "a.log")])
    assert built.code == 0, built.err
    report = built.json()
    assert report["verify"]["ok"]
    sbom = json.loads(Path(report["sbom"]).read_text())
    assert Path(report["sbom"]).parent == tmp_path, "the SBOM lies next to the build log"
    versions = {c["name"].lower().replace("_", "-"): c["version"] for c in sbom["components"]}
    assert versions == lock.versions()

    verified = cli(["verify", first, "--json"])
    assert verified.code == 0, verified.out
    version_checks = [c for c in verified.json()["checks"] if c["name"].startswith("version ")]
    assert len(version_checks) == len(lock.packages) and all(c["ok"] for c in version_checks)

    rebuilt = cli(["build", str(spec), "--backend", "docker", "--tag", second, "--no-cache", "--no-verify", "--json",
                   "--log", str(tmp_path / "b.log")])
    assert rebuilt.code == 0, rebuilt.err
    assert rebuilt.json()["cached_steps"] == 0
    same = cli(["diff", first, second, "--exit-code", "--json"])
    assert same.code == 0, same.out
    assert [c for c in same.json()["changes"] if c["before"] != c["after"]] == []
    assert cli(["diff", str(tmp_path / "supply-test.lock"), second, "--exit-code"]).code == 0

    audit = cli(["audit", first, "--json"])
    assert audit.code == 0, audit.out
    checks = {c["name"]: c["status"] for c in audit.json()["checks"]}
    for name in ("user", "secrets", "compilers", "headers", "package caches", "setuid/setgid files added",
                 "entrypoint"):
        assert checks[name] == "ok", (name, audit.json()["checks"])
    assert audit.json()["labels"]["dev.dockyard.lock-digest"] == lock.digest()


def test_sbom_into_an_image(cli, images, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = "dockyard-test/supply:sbom-base"
    tagged = "dockyard-test/supply:with-sbom"
    images += [(docker.client, base), (docker.client, tagged)]
    context = tmp_path / "context"
    context.mkdir()
    python = load_maps((), ()).base_image("python:3.11-slim-bookworm")
    (context / "Dockerfile").write_text(
        f"FROM {python}\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv\n")
    subprocess.run([docker.client, "build", "-q", "-t", base, str(context)], check=True, capture_output=True,
                   env={**os.environ, **docker.env})
    result = cli(["sbom", base, "--into-image", tagged, "-o", str(tmp_path / "sbom.json")])
    assert result.code == 0, result.err
    names = {c["name"] for c in json.loads((tmp_path / "sbom.json").read_text())["components"]}
    assert "pip" in names, "the venv's own packages"
    inside = subprocess.run([docker.client, "run", "--rm", "--entrypoint", "cat", tagged,
                             "/opt/dockyard/sbom.cdx.json"], capture_output=True, text=True, check=True)
    assert json.loads(inside.stdout)["metadata"]["component"]["type"] == "container"
