"""`dockyard base bootstrap`: a Debian base image made with debootstrap and imported into the engine,
for sites without a registry. With Python (Debian's python3 and venv) it stands in for the official
python:X.Y-slim images through --base-map."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.engine.detect import Engine
from dockyard.errors import BuildError, InputError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_.-]{1,128})?$")


@dataclass(frozen=True)
class BootstrapResult:
    image: str
    suite: str
    python: str | None
    size: int
    seconds: float


def apt_mirror(sources: list[Path] | None = None) -> str:
    """The Debian mirror this machine's apt sources name (deb822 or one-line format), else deb.debian.org."""
    paths = sources if sources is not None else [Path("/etc/apt/sources.list"),
                                                 *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            match = re.match(r"^(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S+)", line)
            if match and "debian" in match[1] and "security" not in match[1]:
                return match[1].rstrip("/")
    return DEFAULT_MIRROR


def bootstrap(image: str, suite: str, engine: Engine, with_python: bool, mirror: str | None = None,
              say: Callable[[str], None] = lambda _: None) -> BootstrapResult:
    import time

    if not IMAGE_NAME.match(image):
        raise InputError(f"{image!r} is not an image name", "use NAME:TAG, e.g. dockyard/bookworm-python:3.11")
    if suite not in SUITE_PYTHON:
        raise InputError(f"unknown suite {suite!r}", f"choose one of: {', '.join(SUITE_PYTHON)}")
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap")
                                                  else None)
    if debootstrap is None:
        raise InputError("debootstrap is not installed", "as root: apt-get install -y debootstrap")
    if os.geteuid() != 0:
        raise InputError("debootstrap needs root", "run `dockyard base bootstrap` as root (or with sudo)")
    mirror = mirror or apt_mirror()
    packages = ["ca-certificates", *(["python3", "python3-venv"] if with_python else [])]
    started = time.monotonic()
    rootfs = Path(tempfile.mkdtemp(prefix="dockyard-rootfs-"))
    try:
        say(f"debootstrap {suite} from {mirror} (minbase + {', '.join(packages)})")
        done = subprocess.run([debootstrap, "--variant=minbase", f"--include={','.join(packages)}", suite,
                               str(rootfs), mirror], capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
            raise BuildError(f"debootstrap {suite} failed:\n{tail}", f"check that {mirror} is reachable")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        say(f"importing into {engine.kind} as {image}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        changes = ["ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]']
        argv = [engine.client, "import", *[x for c in changes for x in ("--change", c)], "-", image]
        imported = subprocess.run(argv, stdin=tar.stdout, capture_output=True, text=True,
                                  env={**os.environ, **engine.env})
        tar.wait()
        if imported.returncode != 0:
            raise BuildError(f"{engine.kind} import of {image} failed: {imported.stderr.strip()}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    size_done = subprocess.run([engine.client, "image", "inspect", "--format", "{{.Size}}", image],
                               capture_output=True, text=True)
    size = int(size_done.stdout.strip() or 0) if size_done.returncode == 0 else 0
    return BootstrapResult(image, suite, SUITE_PYTHON[suite] if with_python else None, size,
                           round(time.monotonic() - started, 1))
