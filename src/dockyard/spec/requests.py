"""Parse what a spec asks for: version requests, add-on entries, pip requirements, base image names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

_PLAIN = re.compile(r"^\d+(\.\d+){0,2}([a-z0-9.+]*)?$")


def version_request(text: str) -> SpecifierSet | None:
    """"2.6" -> ==2.6.*, "2.6.0" -> ==2.6.0, ">=2.5,<2.7" as given; None if it is not a version."""
    text = text.strip()
    if _PLAIN.match(text):
        try:
            version = Version(text)
        except InvalidVersion:
            return None
        parts = len(version.release)
        if parts <= 2 and not version.pre and not version.post and not version.dev and not version.local:
            return SpecifierSet(f"=={text}.*")
        return SpecifierSet(f"=={text}")
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return spec if len(spec) else None


@dataclass(frozen=True)
class AddonRequest:
    name: str
    version: str | None = None
    ref: str | None = None


def addon_request(text: str) -> AddonRequest | None:
    """"deepspeed", "deepspeed==0.19.8" or "apex@<commit>"; None if malformed."""
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([0-9][A-Za-z0-9.+!-]*)|@\s*([A-Za-z0-9._/-]+))?$",
                     text.strip())
    if not match:
        return None
    return AddonRequest(str(canonicalize_name(match[1])), match[2], match[3])


def requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def exact_version(req: Requirement) -> str | None:
    """The version a requirement pins exactly (==X, ===X), else None."""
    for spec in req.specifier:
        if spec.operator in ("==", "===") and "*" not in spec.version:
            return spec.version
    return None


SHA = re.compile(r"^[0-9a-f]{40}$")


def is_commit(ref: str) -> bool:
    return bool(SHA.match(ref))
