"""Where an image's bytes are: directories, Python packages, and the kinds of files a runtime image
should not carry (bytecode is counted, not judged), all from the merged file system."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from dockyard.supply.archive import Entry

SITE = re.compile(r"^(?P<root>.*/(?:site|dist)-packages)/(?P<rest>.+)$")
DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^-/]+)\.(?:dist|egg)-info$")
COMPILER = re.compile(r"^(?:[a-z0-9_]+-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|gfortran|rustc|nvcc|tcc|"
                      r"cc1|cc1plus)(?:-[0-9.]+)?$")
INITS = ("tini", "tini-static", "dumb-init", "docker-init", "catatonit")
CATEGORIES = ("__pycache__", "caches", "headers", "docs", "tests", "static libraries")


@dataclass(frozen=True)
class PackageSize:
    name: str
    version: str
    size: int
    root: str  # the site-packages folder


def category(path: str) -> list[str]:
    """The kinds a file belongs to (a file may be in more than one, e.g. bytecode inside tests)."""
    kinds = []
    parts = PurePosixPath(path).parts
    if "__pycache__" in parts or path.endswith((".pyc", ".pyo")):
        kinds.append("__pycache__")
    if (re.match(r"^/(?:root|home/[^/]+)/\.cache/(?!huggingface/)", path) or path.startswith("/var/cache/apt/")
            or re.match(r"^/var/lib/apt/lists/.+_", path) or path.startswith("/tmp/") or path.endswith(".deb")):
        kinds.append("caches")
    if path.startswith("/usr/include/") or path.endswith((".h", ".hpp", ".hh", ".cuh")) or (
            SITE.match(path) and "/include/" in path):
        kinds.append("headers")
    if re.match(r"^(?:/usr|/usr/local|/opt/venv)/share/(?:doc|man|info|gtk-doc)/", path):
        kinds.append("docs")
    in_tests = SITE.match(path) is not None and ("tests" in parts or "test" in parts)
    if in_tests or re.match(r"^/usr/lib/python3[.0-9]*/test/", path):
        kinds.append("tests")
    if path.endswith(".a"):
        kinds.append("static libraries")
    return kinds


def categories(files: Iterable[Entry]) -> dict[str, int]:
    totals = dict.fromkeys(CATEGORIES, 0)
    for entry in files:
        for kind in category(entry.path):
            totals[kind] += entry.size
    return totals


def directories(files: Iterable[Entry], depth: int = 2, top: int = 12) -> list[tuple[str, int]]:
    sizes: dict[str, int] = defaultdict(int)
    for entry in files:
        parts = PurePosixPath(entry.path).parent.parts[1:depth + 1]
        sizes["/" + "/".join(parts)] += entry.size
    return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:top]


def owners(records: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(site root, top-level name) -> (distribution, version), from each dist-info's RECORD."""
    owned: dict[tuple[str, str], tuple[str, str]] = {}
    for record_path, text in records.items():
        folder = PurePosixPath(record_path).parent
        match = DIST_INFO.match(folder.name)
        if not match:
            continue
        dist = (canonicalize_name(match["name"]), match["version"])
        root = str(folder.parent)
        owned[(root, folder.name)] = dist
        for line in text.splitlines():
            target = line.split(",", 1)[0].strip()
            if not target or target.startswith(".."):
                continue
            top = target.split("/", 1)[0]
            if top == "__pycache__":
                continue
            owned.setdefault((root, top), dist)
            if top.endswith(".py"):
                owned.setdefault((root, f"{top[:-3]}.module"), dist)
    return owned


def _top(rest: str) -> str:
    parts = rest.split("/")
    if parts[0] == "__pycache__" and len(parts) > 1:
        return parts[1].split(".", 1)[0] + ".module"  # __pycache__/six.cpython-311.pyc -> six.py's owner
    return parts[0]


def packages(files: Iterable[Entry], records: Mapping[str, str]) -> list[PackageSize]:
    owned = owners(records)
    sizes: dict[tuple[str, str, str], int] = defaultdict(int)
    for entry in files:
        match = SITE.match(entry.path)
        if not match:
            continue
        top = _top(match["rest"])
        name, version = owned.get((match["root"], top), (f"(unowned) {top.removesuffix('.module')}", ""))
        sizes[(name, version, match["root"])] += entry.size
    rows = [PackageSize(name, version, size, root) for (name, version, root), size in sizes.items()]
    return sorted(rows, key=lambda row: (-row.size, row.name))


def compilers(files: Iterable[Entry]) -> list[str]:
    found = []
    for entry in files:
        path = PurePosixPath(entry.path)
        if entry.kind not in ("file", "symlink", "link"):
            continue
        in_bin = path.parent.name in ("bin", "sbin") or "/lib/gcc/" in entry.path or "/libexec/gcc/" in entry.path
        if in_bin and COMPILER.match(path.name):
            found.append(entry.path)
    return sorted(found)


def setuid(files: Iterable[Entry]) -> list[Entry]:
    return sorted((e for e in files if e.kind == "file" and e.mode & 0o6000), key=lambda e: e.path)


def has_init(entrypoint: list[str] | None) -> bool:
    return bool(entrypoint) and PurePosixPath(str(entrypoint[0])).name in INITS if entrypoint else False
