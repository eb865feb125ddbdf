"""The lock file: every Python package of an image at an exact version with its hashes.

The body is a pip requirements file (`name==version --hash=sha256:...`, one `# via` note per package) so
`pip install --require-hashes -r LOCK` reads it as it is; a commented header says what it was made for:

    # dockyard lock 1
    # spec: preset cpu-inference
    # spec-digest: sha256:...
    # python: 3.11
    # platform: x86_64-manylinux_2_28
    # torch-family: torch
    # index: torch https://download.pytorch.org/whl/cpu
    # base-image: BASE_IMAGE python:3.11-slim-bookworm dockyard/bookworm-python:3.11 sha256:...

Render splits it into the parts its install steps need (torch and companions, the other dependencies,
transformers) so the torch layer stays cached when only transformers changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from packaging.utils import canonicalize_name

from dockyard.errors import InputError
from dockyard.spec.references import refuse_breaks

MAGIC = "# dockyard lock 1"
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")
URL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*(?P<url>\S+)$")


@dataclass(frozen=True)
class Locked:
    """One locked package: an exact version (or a URL) and every hash pip may accept for it."""

    name: str  # canonical (PEP 503) name
    version: str  # exact, with a local label where the index has one (2.13.0+cpu); "" for a URL
    hashes: tuple[str, ...]
    url: str = ""
    via: tuple[str, ...] = ()

    def requirement(self) -> str:
        return f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"

    def lines(self, annotate: bool = True) -> list[str]:
        lines = [self.requirement() + (" \\" if self.hashes else "")]
        for index, value in enumerate(self.hashes):
            lines.append(f"    --hash={value}" + (" \\" if index < len(self.hashes) - 1 else ""))
        if annotate and self.via:
            lines.append(f"    # via {', '.join(self.via)}")
        return lines


@dataclass(frozen=True)
class BaseRef:
    """A base image as the lock saw it: the name the Dockerfile uses, the one the build used after the
    site's base map, and a registry digest (name@sha256:...) or else the local image id ("-" if unknown)."""

    arg: str
    name: str
    used: str
    ref: str

    def line(self) -> str:
        return f"{self.arg} {self.name} {self.used} {self.ref}"

    @property
    def is_digest(self) -> bool:
        return "@sha256:" in self.ref


@dataclass(frozen=True)
class Lock:
    spec: str
    spec_digest: str
    name: str
    python: str
    platform: str
    target: str = ""
    torch_family: tuple[str, ...] = ()
    index: tuple[str, ...] = ()  # "ROLE URL": torch, pypi, find-links
    resolver: str = ""
    base_image: tuple[BaseRef, ...] = ()
    note: tuple[str, ...] = ()
    packages: tuple[Locked, ...] = field(default=())

    def digest(self) -> str:
        """sha256 of what gets installed (requirements and hashes), not of comments or the header."""
        blob = "\n".join(" ".join((p.requirement(), *p.hashes)) for p in self.packages)
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.packages if p.version}

    def get(self, name: str) -> Locked | None:
        wanted = canonicalize_name(name)
        return next((p for p in self.packages if p.name == wanted), None)

    def subset(self, names: Iterable[str], keep: bool = True) -> tuple[Locked, ...]:
        """The packages named (keep) or all but those (keep=False)."""
        chosen = {canonicalize_name(n) for n in names}
        return tuple(p for p in self.packages if (p.name in chosen) == keep)

    def header(self) -> list[str]:
        lines = [MAGIC, "# Made by `dockyard lock`; install with pip --require-hashes. Do not edit: rerun the command."]
        for key in ("spec", "spec-digest", "name", "python", "platform", "target", "resolver"):
            value = getattr(self, key.replace("-", "_"))
            if value:  # one line each: a line break in a value (a spec path) would add a header line
                lines.append(f"# {key}: {refuse_breaks(str(value), f'the lock header {key}')}")
        if self.torch_family:
            lines.append(f"# torch-family: {' '.join(self.torch_family)}")
        lines += [f"# index: {value}" for value in self.index]
        lines += [f"# base-image: {base.line()}" for base in self.base_image]
        lines += [f"# note: {value}" for value in self.note]
        return lines

    def format(self) -> str:
        lines = [*self.header(), "#"]
        for package in self.packages:
            lines += package.lines()
        return "\n".join(lines) + "\n"


def requirements_text(packages: Iterable[Locked], title: str) -> str:
    """A hashed requirements file of some locked packages (what one install step reads)."""
    lines = [f"# {title}"]
    for package in packages:
        lines += package.lines(annotate=False)
    return "\n".join(lines) + "\n"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; keep comments as their own lines. Returns (first line number, text)."""
    result: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not pending and line.lstrip().startswith("#"):
            result.append((number, line.strip()))
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            result.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        result.append((start, pending.strip()))
    return result


def parse_entry(text: str, where: str) -> Locked:
    """`name==version --hash=sha256:...` or `name @ url --hash=...` -> Locked."""
    parts = text.split()
    hashes = []
    words = []
    for part in parts:
        if part.startswith("--hash="):
            value = part[len("--hash="):]
            if not HASH.match(value):
                raise InputError(f"{where}: {value!r} is not a sha256 hash")
            hashes.append(value)
        elif part.startswith("-"):
            raise InputError(f"{where}: option {part!r} is not allowed in a lock file",
                             "indexes are chosen by dockyard; rerun `dockyard lock`")
        else:
            words.append(part)
    requirement = " ".join(words)
    pin = PIN.match(requirement.replace(" ", ""))
    url = URL.match(requirement)
    if pin:
        return Locked(canonicalize_name(pin["name"]), pin["version"], tuple(sorted(hashes)))
    if url:
        return Locked(canonicalize_name(url["name"]), "", tuple(sorted(hashes)), url=url["url"])
    raise InputError(f"{where}: {requirement!r} is not an exact pin (name==version) or a URL requirement",
                     "a lock pins every package exactly; rerun `dockyard lock`")


def parse(text: str, source: str) -> Lock:
    if not text.startswith(MAGIC):
        raise InputError(f"{source}: not a dockyard lock file (the first line is not {MAGIC!r})",
                         "make one with `dockyard lock SPEC -o FILE`")
    header: dict[str, list[str]] = {}
    packages: list[Locked] = []
    via: dict[str, list[str]] = {}
    current: str | None = None
    listing = False  # inside a multi-line "# via" list (uv's own layout)
    for number, line in _logical_lines(text):
        if line.startswith("#"):
            body = line[1:].strip()
            key, sep, value = body.partition(":")
            if not packages and sep and re.fullmatch(r"[a-z-]+", key):
                header.setdefault(key, []).append(value.strip())
            elif current and (body == "via" or body.startswith("via ")):
                listing = body == "via"
                via.setdefault(current, []).extend(v.strip() for v in body[4:].split(",") if v.strip())
            elif current and listing and body:
                via.setdefault(current, []).append(body)
            continue
        listing = False
        entry = parse_entry(line, f"{source}:{number}")
        if any(p.name == entry.name for p in packages):
            raise InputError(f"{source}:{number}: {entry.name} is locked twice")
        packages.append(entry)
        current = entry.name
    for key in ("spec-digest", "python"):
        if key not in header:
            raise InputError(f"{source}: the header has no {key}", "rerun `dockyard lock` to rewrite the file")

    def one(key: str) -> str:
        return header.get(key, [""])[-1]

    bases = []
    for value in header.get("base-image", []):
        fields = value.split()
        if len(fields) != 4:
            raise InputError(f"{source}: base-image {value!r} is not 'ARG NAME USED REF'")
        bases.append(BaseRef(*fields))
    located = tuple(replace(p, via=tuple(via.get(p.name, ()))) for p in packages)
    return Lock(
        spec=one("spec"), spec_digest=one("spec-digest"), name=one("name"), python=one("python"),
        platform=one("platform"), target=one("target"), torch_family=tuple(one("torch-family").split()),
        index=tuple(header.get("index", [])), resolver=one("resolver"), base_image=tuple(bases),
        note=tuple(header.get("note", [])), packages=tuple(sorted(located, key=lambda p: p.name)),
    )
