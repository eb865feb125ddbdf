"""The floor of an image, and what a node pulls: shared by bench/size.py and bench/serve.py.

Floor: the same base with the same packages installed plainly: a virtualenv made by the base's Python,
`pip install --no-deps --no-compile` of exactly the distributions (name==version) the image holds, and
`apt-get install --no-install-recommends` of exactly the Debian packages it holds beyond its base (by
name: the mirror's current version; lists removed after). No bytecode, no cache in a layer (pip's
downloads go to a cache mount shared with dockyard's builds, which never reaches the image), no
stripping, nothing removed. An image below its floor (ratio < 1) carries less than a plain install of
its own packages; above it, the difference is what it adds (bytecode, an init, a probe) or keeps.

Pull size: what a registry stores and a node downloads: each layer of `docker save` compressed on its
own with gzip at level 6 (Go's compress/gzip default, which docker push uses), summed. Computed from the
saved stream, nothing written to disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLOOR_DOCKERFILE = HERE / "dockerfiles" / "floor.Dockerfile"
DISTRIBUTIONS = ("import importlib.metadata as m, json; print(json.dumps(sorted({(d.metadata['Name'] or '').lower(): "
                 "d.version for d in m.distributions() if d.metadata['Name']}.items())))")
DEBIAN_FORMAT = "${db:Status-Status} ${Package}\\n"
SIZES = ("import importlib.metadata as m, json, os\n"
         "out = {}\n"
         "for d in m.distributions():\n"
         "    name = (d.metadata['Name'] or '').lower()\n"
         "    total = 0\n"
         "    for f in d.files or []:\n"
         "        p = str(d.locate_file(f))\n"
         "        if os.path.isfile(p) and not os.path.islink(p):\n"
         "            total += os.lstat(p).st_size\n"
         "    out[name] = max(out.get(name, 0), total)\n"
         "print(json.dumps(out))")
# Bytes on disk of the files dpkg lists for the packages named in argv, each file once (Mesa's drivers
# are one file under many hard-linked names): what the packages really cost in an image whose dpkg
# leaves out documentation or whose build trimmed them.
DEBIAN_BYTES = ("import glob, json, os, sys\n"
                "seen, total = set(), 0\n"
                "for name in sys.argv[1:]:\n"
                "    for listing in glob.glob(f'/var/lib/dpkg/info/{name}.list') + "
                "glob.glob(f'/var/lib/dpkg/info/{name}:*.list'):\n"
                "        for line in open(listing, encoding='utf-8', errors='replace'):\n"
                "            path = line.rstrip('\\n')\n"
                "            if not os.path.isfile(path) or os.path.islink(path):\n"
                "                continue\n"
                "            status = os.lstat(path)\n"
                "            if (status.st_dev, status.st_ino) not in seen:\n"
                "                seen.add((status.st_dev, status.st_ino))\n"
                "                total += status.st_size\n"
                "print(json.dumps(total))")


@dataclass
class Floor:
    tag: str
    size: int = 0
    pull: int = 0
    build_seconds: float = 0.0
    python: list[str] = field(default_factory=list)  # name==version
    debian: list[str] = field(default_factory=list)  # Debian packages beyond the base
    notes: list[str] = field(default_factory=list)


def run_python(bench: Any, tag: str, code: str, *args: str) -> str:
    """Run `code` (with `args` as its sys.argv[1:]) with the `python` first on the image's PATH (its venv), as
    root, without its entrypoint."""
    done = bench.docker("run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", tag, "-c",
                        'code=$1; shift; exec python -c "$code" "$@"', "sh", code, *args)
    return str(done.stdout)


def debian_bytes(bench: Any, tag: str, packages: list[str]) -> int:
    """Bytes on disk in the image of the files its dpkg database lists for `packages`."""
    if not packages:
        return 0
    return int(json.loads(run_python(bench, tag, DEBIAN_BYTES, *packages)))


def debian_packages(bench: Any, tag: str) -> set[str]:
    done = bench.docker("run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "dpkg-query", tag,
                        "-W", "-f", DEBIAN_FORMAT, check=False)
    return {line.split()[1] for line in done.stdout.splitlines() if line.startswith("installed ")}


def packages_of(bench: Any, tag: str) -> tuple[list[str], list[str]]:
    """(name==version of every Python distribution, the name of every Debian package not in the base)."""
    python = [f"{name}=={version}" for name, version in json.loads(run_python(bench, tag, DISTRIBUTIONS))
              if name not in ("pip", "setuptools", "wheel")]  # the floor's venv brings its own
    debian = sorted(debian_packages(bench, tag) - debian_packages(bench, bench.base))
    return python, debian


def distribution_sizes(bench: Any, tag: str) -> dict[str, int]:
    """Bytes on disk of each distribution's files (its RECORD), the image's bytecode not counted."""
    sizes: dict[str, int] = json.loads(run_python(bench, tag, SIZES))
    return sizes


class Floors:
    """Floors built in this run, one per distinct package set (the bytecode variants share one)."""

    def __init__(self, bench: Any, prefix: str) -> None:
        self.bench = bench
        self.prefix = prefix
        self.built: dict[str, Floor] = {}

    def of(self, tag: str, extra_index: str = "") -> Floor:
        python, debian = packages_of(self.bench, tag)
        key = hashlib.sha256(json.dumps([python, debian, extra_index]).encode()).hexdigest()[:12]
        if key not in self.built:
            self.built[key] = self.build(key, python, debian)
        return self.built[key]

    def drop(self, floor: Floor) -> None:
        """Remove a floor no other image of the run shares (a large one: the disk is shared)."""
        if not self.bench.keep and floor.tag in self.bench.made:
            self.bench.docker("image", "rm", "--force", floor.tag, check=False)
            self.bench.made.remove(floor.tag)

    def build(self, key: str, python: list[str], debian: list[str]) -> Floor:
        floor = Floor(f"{self.prefix}/floor-{key}:latest", python=python, debian=debian)
        with tempfile.TemporaryDirectory(prefix="dockyard-floor-") as folder:
            context = Path(folder)
            (context / "wheels").mkdir()
            for wheel in self.bench.wheelhouse.glob("*.whl"):
                os.link(wheel, context / "wheels" / wheel.name)
            (context / "requirements.txt").write_text("\n".join(python) + "\n")
            (context / "debian.txt").write_text("\n".join(debian) + "\n")
            shutil.copy(FLOOR_DOCKERFILE, context / "Dockerfile")
            started = time.monotonic()
            self.bench.docker("build", "--progress=plain", "--tag", floor.tag, "--secret", f"id=ca,src={self.bench.ca}",
                              "--build-arg", f"BASE_IMAGE={self.bench.base}", str(context))
            floor.build_seconds = time.monotonic() - started
        self.bench.made.append(floor.tag)
        floor.size = self.bench.size(floor.tag)
        floor.pull = pull_size(self.bench, floor.tag)
        return floor


def venv_skeleton(bench: Any) -> int:
    """Bytes of an empty venv made by the base's Python (its pip and setuptools): a floor's first layer."""
    script = "python3 -m venv /tmp/v >/dev/null && find /tmp/v -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'"
    return int(bench.docker("run", "--rm", "--network", "none", "--entrypoint", "sh", bench.base, "-c",
                            script).stdout.strip() or 0)


def wheel_bytes(requirement: str, folder: Path, cert: str, wheelhouse: Path | None = None) -> int:
    """What a plain `pip install --no-compile` of one distribution writes: the files of its wheel (an
    sdist is built into one first), summed from the wheel's zip directory. --isolated: PyPI, and the
    wheelhouse only for a local version (torch==2.13.0+cpu), so torch==2.13.0 is PyPI's CUDA build,
    never the wheelhouse's +cpu one."""
    import sys
    import zipfile

    for old in folder.iterdir():
        old.unlink()
    argv = [sys.executable, "-m", "pip", "wheel", "--isolated", "--no-deps", "--no-cache-dir", "--quiet",
            "--index-url", "https://pypi.org/simple", "-w", str(folder), requirement]
    if cert:
        argv[5:5] = ["--cert", cert]
    if "+" in requirement and wheelhouse is not None:
        argv[5:5] = ["--find-links", str(wheelhouse)]
    done = subprocess.run(argv, capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise SystemExit(f"pip wheel {requirement} failed:\n{done.stderr[-1500:]}")
    with zipfile.ZipFile(wheels[0]) as archive:
        return sum(info.file_size for info in archive.infolist())


WHEEL_BYTES: dict[str, int] = {}  # requirement -> bytes, shared by the images of one run


def computed_floor(bench: Any, tag: str) -> tuple[Floor, dict[str, int]]:
    """The floor's size without building it (for images whose floor would not fit the shared disk): the
    base, an empty venv, every distribution's wheel files and every extra Debian package's declared
    Installed-Size. bench/size.py checks the method against a floor it builds (cpu-inference)."""
    python, debian = packages_of(bench, tag)
    floor = Floor(f"(computed for {tag})", python=python, debian=debian, notes=["computed, not built"])
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="dockyard-floor-wheels-") as folder:
        for requirement in python:
            if requirement not in WHEEL_BYTES:
                WHEEL_BYTES[requirement] = wheel_bytes(requirement, Path(folder), bench.ca, bench.wheelhouse)
            sizes[requirement.split("==")[0]] = WHEEL_BYTES[requirement]
    if debian:
        done = bench.docker("run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "dpkg-query", tag,
                            "-W", "-f", "${Package} ${Installed-Size}\\n", *debian)
        sizes["(Debian packages)"] = sum(int(line.split()[1]) * 1024 for line in done.stdout.splitlines()
                                         if len(line.split()) == 2)
    floor.size = bench.size(bench.base) + venv_skeleton(bench) + sum(sizes.values())
    return floor, sizes


def pull_size(bench: Any, tag: str, tries: int = 2) -> int:
    """Sum of the image's layers each compressed with gzip level 6 (what a registry stores). A save cut
    short (a daemon restarted on the shared machine) is tried again."""
    for _ in range(tries):
        save = subprocess.Popen([bench.engine.client, "save", tag], stdout=subprocess.PIPE, env=bench.env)
        assert save.stdout is not None
        total = 0
        try:
            with tarfile.open(fileobj=save.stdout, mode="r|") as archive:
                for member in archive:
                    if not member.isfile() or not member.name.endswith("layer.tar"):
                        continue
                    handle = archive.extractfile(member)
                    assert handle is not None
                    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
                    while chunk := handle.read(1 << 20):
                        total += len(packer.compress(chunk))
                    total += len(packer.flush())
        except tarfile.TarError:
            save.kill()
        if save.wait() == 0:
            return total
        time.sleep(30)
    raise SystemExit(f"docker save {tag} failed {tries} times")
