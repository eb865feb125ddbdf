"""Debian packages in an image: the bytes each one has on disk and the chain of dependencies that pulled
it in, read from dpkg's own records (/var/lib/dpkg/status and info/*.list) in the merged file system.

Sizes are the files actually present, not the packages' declared Installed-Size: a slim image's dpkg
leaves out documentation and other paths (path-exclude), so the declared size would overstate them. A
file hard-linked under several names counts once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard.supply.archive import Entry

STATUS = "/var/lib/dpkg/status"
INFO = "/var/lib/dpkg/info/"
_NAME = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)")


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    depends: tuple[tuple[str, ...], ...]  # each group: alternatives
    provides: tuple[str, ...]
    essential: bool


@dataclass(frozen=True)
class AptSize:
    name: str
    version: str
    size: int
    pulled_by: tuple[str, ...]  # the chain from a package nothing depends on down to this one

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "size": self.size, "pulled_by": list(self.pulled_by)}


def is_dpkg_record(path: str) -> bool:
    return path == STATUS or (path.startswith(INFO) and path.endswith(".list"))


def _names(field: str) -> tuple[tuple[str, ...], ...]:
    groups = []
    for group in field.split(","):
        names = tuple(m.group(1) for alt in group.split("|") if (m := _NAME.match(alt.split(":")[0])))
        if names:
            groups.append(names)
    return tuple(groups)


def parse_status(text: str) -> dict[str, DebPackage]:
    """Installed packages of a dpkg status file."""
    packages: dict[str, DebPackage] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package")
        if not name or not fields.get("Status", "").endswith(" installed"):
            continue
        depends = _names(", ".join(v for k in ("Pre-Depends", "Depends") if (v := fields.get(k))))
        packages[name] = DebPackage(name, fields.get("Version", ""), depends,
                                    tuple(n for group in _names(fields.get("Provides", "")) for n in group),
                                    fields.get("Essential") == "yes")
    return packages


def chains(packages: Mapping[str, DebPackage]) -> dict[str, tuple[str, ...]]:
    """For each package, the shortest chain of Depends from a root (a package no other installed
    package depends on) down to it, root first."""
    providers: dict[str, set[str]] = {}
    for package in packages.values():
        for name in (package.name, *package.provides):
            providers.setdefault(name, set()).add(package.name)
    children: dict[str, set[str]] = {name: set() for name in packages}
    for package in packages.values():
        for group in package.depends:
            for alternative in group:
                for provider in providers.get(alternative, ()):
                    if provider != package.name:
                        children[package.name].add(provider)
    depended = {c for kids in children.values() for c in kids}
    roots = sorted(n for n in packages if n not in depended)
    found: dict[str, tuple[str, ...]] = {}
    queue: deque[tuple[str, ...]] = deque((root,) for root in roots)
    for root in roots:
        found[root] = (root,)
    while queue:
        path = queue.popleft()
        for child in sorted(children[path[-1]]):
            if child not in found:
                found[child] = (*path, child)
                queue.append(found[child])
    for name in packages:  # in a dependency cycle with no root above it
        found.setdefault(name, (name,))
    return found


def apt_sizes(files: Iterable[Entry], records: Mapping[str, str]) -> list[AptSize]:
    """Debian packages by the bytes of their files in the image, largest first, each with its chain."""
    packages = parse_status(records.get(STATUS, ""))
    if not packages:
        return []
    owner: dict[str, str] = {}
    for path, text in records.items():
        if path.endswith(".list"):
            package = path[len(INFO):].removesuffix(".list").split(":")[0]
            for line in text.splitlines():
                owner.setdefault(line.strip(), package)
    sizes = dict.fromkeys(packages, 0)
    for entry in files:  # a hard link's second name is a "link" entry: each file counts once
        package = owner.get(entry.path) or owner.get(_usr_merged(entry.path), "")
        if package in sizes and entry.kind == "file":
            sizes[package] += entry.size
    paths = chains(packages)
    rows = [AptSize(name, packages[name].version, size, paths[name][:-1]) for name, size in sizes.items()]
    return sorted(rows, key=lambda row: (-row.size, row.name))


def _usr_merged(path: str) -> str:
    """dpkg may list /lib/x.so where a merged-/usr image stores /usr/lib/x.so, and the other way round."""
    for short in ("/lib/", "/bin/", "/sbin/", "/lib64/"):
        if path.startswith("/usr" + short):
            return path[len("/usr"):]
        if path.startswith(short):
            return "/usr" + path
    return path
