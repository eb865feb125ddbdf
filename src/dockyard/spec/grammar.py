"""Strict grammars for the spec values that reach a shell, a Dockerfile or the builder's disk.

Specs are review material: CI builds whatever specs a pull request brings (docs/security.md). So every
value that ends up in a RUN, an ARG, a URL or a path is checked here against a grammar that cannot
carry shell syntax, before anything else reads it (git refs and image references with the grammars of
references.py). The render side quotes as well (render/instructions.py, render/quoting.py), so a value
that slipped past a grammar still stays data.

Each check returns None or (problem, hint); `check_values` runs them over a spec and raises a SpecError
naming the file, the key and the value. `confine` checks paths on disk (files, lock).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from dockyard.errors import SpecError
from dockyard.spec.references import git_ref, shown
from dockyard.spec.requests import addon_request, requirement, version_request

Problem = tuple[str, str] | None


# What versions and specifiers are made of (PEP 440); `===` (arbitrary equality) takes any text, so no.
_VERSIONS = re.compile(r"[0-9A-Za-z.*+!<>=~, ]{1,100}")


def _version(value: str) -> bool:
    return bool(_VERSIONS.fullmatch(value)) and "===" not in value and version_request(value) is not None


def transformers(value: str) -> Problem:
    """A version or specifier, or "main"; a `git:REF` is checked by references.git_ref (check_values)."""
    if value == "main" or _version(value) or value.startswith("git:"):
        return None
    return ('not a version, specifier, "main" or "git:<ref>"',
            'use e.g. "5.24.0", ">=5.20", "main" or "git:<commit sha>"')


def torch(value: str) -> Problem:
    if value in ("nightly", "none") or _version(value):
        return None
    return "not a version or specifier", 'use "2.6", "2.6.0", ">=2.5,<2.7", "nightly" or "none"'


_VARIANT = re.compile(r"^[a-z][a-z0-9.]{0,30}$")


def variant(value: str) -> Problem:
    if _VARIANT.fullmatch(value):
        return None
    return "not a torch wheel variant", "variants look like cpu, cu126, cu130, rocm6.2.4, xpu"


_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")  # PEP 508 names, PEP 685 extras


def package_name(value: str) -> Problem:
    if _NAME.fullmatch(value):
        return None
    return "not a package name", "use the name as PyPI spells it: letters, digits and '._-', e.g. \"einops\""


_HASH = re.compile(r"(?:^|&)(sha256=[0-9a-f]{64}|sha384=[0-9a-f]{96}|sha512=[0-9a-f]{128})(?:&|$)")


def package(value: str, allow_direct: bool) -> Problem:
    """A PEP 508 requirement that a requirements file reads as one requirement; no direct reference
    (`name @ URL`) unless the spec opts in, and then only an archive URL whose fragment carries its hash."""
    if "\\" in value or re.search(r"\s[-#]", value):
        return ("not a single requirement: a backslash, or ' -' or ' #' after a space, makes pip read options "
                "or a comment", 'write one requirement, e.g. "einops==0.8.2"')
    req = requirement(value)
    if req is None:
        return "not a valid pip requirement", 'write e.g. "einops==0.8.2"'
    if not req.url:
        return None
    if not allow_direct:
        return ("a direct reference (name @ URL or file) installs code from outside any index",
                "use a name and version from PyPI; if you mean it, set allow-direct-references = true and put the "
                "archive's hash in the URL, e.g. name @ https://host/name-1.0.tar.gz#sha256=<64 hex digits>")
    url = urlsplit(req.url)
    if "+" in url.scheme or url.scheme not in ("https", "http", "file"):
        return (f"a {url.scheme or 'schemeless'} reference cannot be checked against a hash",
                "use an https archive or wheel URL with #sha256=<hash>")
    if not _HASH.search(url.fragment):
        return ("a direct reference needs its hash (allow-direct-references is set)",
                "end the URL with #sha256=<64 hex digits> of the archive (pip checks it)")
    return None


def relative_path(value: str) -> Problem:
    """A path under the spec's folder, as written (the folder itself is checked by `confine`)."""
    if PurePosixPath(value).is_absolute() or re.match(r"[A-Za-z]:[\\/]", value) or value.startswith("~"):
        return ("an absolute path: files are copied from the spec's folder only",
                "write the path relative to the spec file, and keep the files beside it")
    return None


def confine(root: Path, entry: str) -> tuple[Path, str | None]:
    """(resolved path, problem): `entry` under `root` after following every link, as docker's build
    context requires. In a folder every entry is checked, following links as the copy will."""
    base = root.resolve()
    try:
        path = (base / entry).resolve()
    except (OSError, RuntimeError) as exc:  # a name too long, a link loop
        return base / entry, f"cannot be resolved: {getattr(exc, 'strerror', None) or exc}"
    if not path.is_relative_to(base):
        return path, f"resolves to {path}, outside the spec's folder {base}"
    for folder, dirs, names in os.walk(path, followlinks=True):
        here = Path(folder)
        for name in sorted([*dirs, *names]):
            link = here / name
            target = link.resolve()
            if not target.is_relative_to(base):
                return path, f"holds {_inside(link, base)}, a link to {target}, outside the spec's folder {base}"
            if link.is_symlink() and target.is_dir() and here.resolve().is_relative_to(target):
                return path, f"holds {_inside(link, base)}, a link to a folder it is in: copying it would never end"
    return path, None


def brief(value: str, limit: int = 80) -> str:
    """A value for a message: as references.shown shows it (never a credential), long ones cut."""
    whole = shown(value)
    if len(value) <= limit or whole.startswith("<hidden"):
        return whole
    return shown(value[:limit]) + f"… ({len(value)} characters)"


def _inside(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)




def check_values(source: str, data: Mapping[str, Any]) -> None:
    """Every grammar above over a spec's `[image]` keys (after `extends` is merged); raises SpecError, or
    InputError from references.git_ref (both exit 2, naming the file and the key)."""
    allow_direct = data.get("allow-direct-references") is True
    single: dict[str, Callable[[str], Problem]] = {
        "transformers": transformers, "torch": torch, "variant": variant, "lock": relative_path,
    }
    each: dict[str, Callable[[str], Problem]] = {
        "extras": package_name, "exclude": package_name, "files": relative_path,
        "packages": lambda text: package(text, allow_direct),
    }
    for key, check in single.items():
        value = data.get(key)
        if isinstance(value, str) and value:
            _raise(source, key, value, check(value))
    for key, check in each.items():
        for value in data.get(key) or []:
            _raise(source, key, value, check(value))
    transformers_ref = str(data.get("transformers") or "")
    if transformers_ref.startswith("git:"):
        _ref(source, "transformers", transformers_ref, transformers_ref[4:])
    for entry in data.get("addons") or []:  # a malformed entry is resolve's to refuse (it says what to write)
        parsed = addon_request(entry)
        if parsed is not None and parsed.ref is not None:
            _ref(source, "addons", entry, parsed.ref)


def _ref(source: str, key: str, value: str, ref: str) -> None:
    where = f"{source}: [image].{key} = {brief(value)}: the ref"
    if len(ref) > 200:
        raise SpecError(f"{where} has {len(ref)} characters", "a git ref has at most 200")
    git_ref(ref, where)


def _raise(source: str, key: str, value: str, problem: Problem) -> None:
    if problem is not None:
        raise SpecError(f"{source}: [image].{key} = {brief(value)}: {problem[0]}", problem[1])
