"""A CycloneDX SBOM of an image's Python environment, made by cyclonedx-bom (`cyclonedx-py environment`).

The package metadata (every *.dist-info folder on the sys.path of the image's own `python3`, its
virtualenv when it has one) is taken from the image: by running that interpreter once with no network
on a read-only root to pack the metadata folders (a second or two), or, when that cannot run, from the
saved image without running anything. cyclonedx-py then reads a scratch copy on the host through a
stand-in interpreter that reports the copy as its sys.path (cyclonedx-py asks the interpreter for
sys.path and reads the metadata itself). The image becomes the BOM's main component (type container)
with its id and dockyard's labels as properties; the image's creation time is the BOM's timestamp, so
the same image gives the same SBOM.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from dockyard.engine.backends import Backend, BuildRequest
from dockyard.errors import BuildError, DockyardError, InputError
from dockyard.supply.archive import Entry, Layer, normal, read_archive, saved

METADATA = re.compile(r"^(?P<root>.*/(?:site|dist)-packages)/[^/]+\.(?:dist|egg)-info/")
IN_IMAGE = "/opt/dockyard/sbom.cdx.json"


class SbomError(DockyardError):
    """cyclonedx-py failed."""


def collect_metadata(archive: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every metadata file of the merged file system (path -> content), and the image config."""
    seen: dict[str, tuple[int, bytes]] = {}

    def visit(layer: Layer, entry: Entry, handle: IO[bytes]) -> None:
        if METADATA.match(entry.path) and entry.size < 50_000_000:
            seen[entry.path] = (layer.index, handle.read())

    image = read_archive(archive, visit)
    merged = image.filesystem()
    files = {path: data for path, (layer, data) in seen.items()
             if path in merged and merged[path].layer == layer}
    return files, image.config


PACK = """
import os, sys, tarfile
roots = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
    for root in roots:
        for name in sorted(os.listdir(root)):
            if name.endswith((".dist-info", ".egg-info")):
                tar.add(os.path.join(root, name))
"""


def metadata_from_run(backend: Backend, image: str) -> dict[str, bytes]:
    """Run the image's python once (no network, read-only root) to pack its packages' metadata."""
    argv = backend.run_argv(image, ["-c", PACK], ["--entrypoint", "python3", "--network", "none", "--read-only"])
    done = subprocess.run(argv, capture_output=True, timeout=300)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[-400:]
        raise SbomError(f"cannot run python3 in {image}: {detail}")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r|") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isreg() else None
            if handle is not None:
                files[normal(member.name)] = handle.read()
    return files


def roots(files: dict[str, bytes], env_list: list[str]) -> list[str]:
    found = sorted({m["root"] for path in files if (m := METADATA.match(path))})
    env = dict(str(item).partition("=")[::2] for item in env_list)
    venv = env.get("VIRTUAL_ENV", "")
    inside = [r for r in found if venv and r.startswith(venv.rstrip("/") + "/")]
    return inside or found


def cyclonedx(files: dict[str, bytes], site_roots: list[str], created: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dockyard-sbom-") as folder:
        base = Path(folder) / "root"
        for path, data in files.items():
            if any(path.startswith(r + "/") for r in site_roots):
                target = base / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        paths = [str(base / r.lstrip("/")) for r in site_roots]
        stub = Path(folder) / "python"
        stub.write_text(f"#!/bin/sh\necho '{json.dumps(paths)}'\n", encoding="utf-8")
        stub.chmod(0o755)
        output = Path(folder) / "sbom.json"
        env = {**os.environ, "SOURCE_DATE_EPOCH": created}
        argv = [sys.executable, "-m", "cyclonedx_py", "environment", "--output-reproducible", "--of", "JSON",
                "--sv", "1.6", "-o", str(output), str(stub)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not output.is_file():
            if "No module named cyclonedx_py" in done.stderr:
                raise InputError("dockyard sbom needs cyclonedx-bom, which is not installed",
                                 "pip install cyclonedx-bom")
            raise SbomError(f"cyclonedx-py failed: {done.stderr.strip()[-800:]}")
        bom: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    for component in bom.get("components", []):  # paths of the scratch folder mean nothing to a reader
        component.pop("evidence", None)
    return bom


def _epoch(created: str) -> str:
    """The image's creation time (RFC 3339, as engines write it) in seconds since the epoch."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$", created)
    if not match:
        return "0"
    zone = match[2] if match[2] and match[2] != "Z" else "+00:00"
    return str(int(dt.datetime.fromisoformat(match[1] + zone).timestamp()))


def with_image(bom: dict[str, Any], image: str, image_id: str, labels: dict[str, str]) -> dict[str, Any]:
    properties = [{"name": f"dockyard:label:{k}", "value": str(v)} for k, v in sorted(labels.items())
                  if k.startswith(("dev.dockyard.", "org.opencontainers."))]
    properties.append({"name": "dockyard:image-id", "value": image_id})
    component = {"type": "container", "bom-ref": f"image:{image_id or image}", "name": image,
                 "version": image_id, "properties": properties}
    bom.setdefault("metadata", {})["component"] = component
    refs = [c.get("bom-ref") for c in bom.get("components", []) if c.get("bom-ref")]
    dependencies = [d for d in bom.get("dependencies", []) if d.get("ref") != component["bom-ref"]]
    bom["dependencies"] = [{"ref": component["bom-ref"], "dependsOn": refs}, *dependencies]
    return bom


def make_sbom(files: dict[str, bytes], image: str, image_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """config: the image's run config (Env, Labels) and its creation time under "created"."""
    site_roots = roots(files, list(config.get("Env") or []))
    if not site_roots:
        raise InputError(f"{image}: no Python packages (no site-packages with *.dist-info) in the image")
    bom = cyclonedx(files, site_roots, _epoch(str(config.get("created", ""))))
    return with_image(bom, image, image_id, dict(config.get("Labels") or {}))


def sbom_of_archive(archive: Path, image: str, image_id: str = "") -> dict[str, Any]:
    files, config = collect_metadata(archive)
    return make_sbom(files, image, image_id, {**(config.get("config") or {}), "created": config.get("created")})


def sbom_image(backend: Backend, image: str) -> dict[str, Any]:
    data = backend.inspect(image)
    if data is None:
        raise InputError(f"no image {image!r} in {backend.engine.kind}", "build it first")
    try:
        files = metadata_from_run(backend, image)
    except SbomError:  # no python3 on the image's PATH: read the saved image instead (slower, runs nothing)
        with saved(backend, image) as archive:
            return sbom_of_archive(archive, image, str(data.get("Id", "")))
    config = {**(data.get("Config") or {}), "created": data.get("Created")}
    return make_sbom(files, image, str(data.get("Id", "")), config)


def into_image(backend: Backend, image: str, bom: dict[str, Any], tag: str) -> str:
    """A new image: IMAGE plus the SBOM at /opt/dockyard/sbom.cdx.json (one small layer on top)."""
    with tempfile.TemporaryDirectory(prefix="dockyard-sbom-ctx-") as folder:
        context = Path(folder)
        (context / "sbom.cdx.json").write_text(json.dumps(bom, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (context / "Dockerfile").write_text(
            f"FROM {image}\nCOPY sbom.cdx.json {IN_IMAGE}\nLABEL dev.dockyard.sbom=\"{IN_IMAGE}\"\n",
            encoding="utf-8")
        iid = context / "iid"
        argv = backend.build_argv(BuildRequest(context, (tag,), iidfile=iid))
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **backend.build_env()})
        if done.returncode != 0:
            raise BuildError(f"adding the SBOM to {image} failed: {done.stdout[-400:]}{done.stderr[-400:]}")
        return iid.read_text().strip() if iid.is_file() else tag



def write(bom: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bom, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path



def beside_log(backend: Backend, image: str, log_path: Path) -> tuple[str, str]:
    """After a build: write the SBOM next to the build log. Returns (path, "") or ("", why not)."""
    import importlib.util

    if importlib.util.find_spec("cyclonedx_py") is None:
        return "", "no SBOM written: cyclonedx-bom is not installed (pip install cyclonedx-bom)"
    path = log_path.with_name(log_path.name.removesuffix(".log") + ".sbom.cdx.json")
    try:
        write(sbom_image(backend, image), path)
    except DockyardError as exc:
        return "", f"no SBOM written: {exc.message}"
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        return "", f"no SBOM written: {exc}"
    return str(path), ""
