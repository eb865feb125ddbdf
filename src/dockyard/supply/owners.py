"""Which package manager put a file into an image, proven by its hash: pip's RECORD (sha256) for Python
packages, dpkg's md5sums for Debian packages. A token-shaped string inside a file that still matches its
package's published hash is public package content (a library's self-test key, a documented CI token),
not something the build leaked; audit lists such files apart and does not fail on them."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dockyard.supply.layout import DIST_INFO


@dataclass
class Manifests:
    python: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (sha256 b64, "name version")
    debian: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (md5 hex, package)

    def add_record(self, record_path: str, text: str) -> None:
        folder = PurePosixPath(record_path).parent
        match = DIST_INFO.match(folder.name)
        if not match:
            return
        owner = f"Python package {match['name']} {match['version']}"
        root = str(folder.parent)
        for line in text.splitlines():
            parts = line.rsplit(",", 2)
            if len(parts) != 3 or not parts[1].startswith("sha256="):
                continue
            path = posixpath.normpath(posixpath.join(root, parts[0]))
            self.python[path] = (parts[1][len("sha256="):], owner)

    def add_md5sums(self, path: str, text: str) -> None:
        package = PurePosixPath(path).name.removesuffix(".md5sums").split(":")[0]
        for line in text.splitlines():
            digest, _, name = line.partition("  ")
            if digest and name:
                self.debian["/" + name.strip().lstrip("/")] = (digest.strip(), f"Debian package {package}")

    def owner(self, path: str, md5: str, sha256: str) -> str:
        """The package whose published hash this file still has, or ""."""
        for table, digest in ((self.python, sha256), (self.debian, md5)):
            known = table.get(path)
            if known and known[0] == digest:
                return known[1]
        return ""


def is_manifest(path: str) -> bool:
    return path.endswith(".dist-info/RECORD") or (path.startswith("/var/lib/dpkg/info/")
                                                  and path.endswith(".md5sums"))


def load(manifests: Manifests, files: Mapping[str, str]) -> Manifests:
    for path, text in files.items():
        if path.endswith(".md5sums"):
            manifests.add_md5sums(path, text)
        else:
            manifests.add_record(path, text)
    return manifests
