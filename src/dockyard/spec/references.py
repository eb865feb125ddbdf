"""Strict grammars for the names and options that end up inside generated files.

A value is checked whole against its grammar and refused with a message, never truncated or cleaned:
`base = "img AS x"` is an error, not the image `img`. The image reference grammar is the one of the
distribution project's reference package (github.com/distribution/reference, regexp.go: domain,
path components, tag `[\\w][\\w.-]{0,127}`, digest `algorithm:hex`), which docker and BuildKit parse.
Git refs follow `git check-ref-format` (Documentation/git-check-ref-format.txt), stricter where a ref
reaches a URL: no `..` (a `../` would climb out of the repository's archive path), no `//`, no `@{`.
"""

from __future__ import annotations

import re
import unicodedata

from dockyard.errors import InputError

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# a first part is a registry host only when it has a `.` or a `:` or is localhost (as docker decides)
_PORT = r"(?::[0-9]+)?"
_DOMAIN = rf"(?:localhost{_PORT}|{_LABEL}(?:\.{_LABEL})+{_PORT}|{_LABEL}:[0-9]+|\[[0-9a-fA-F:]+\]{_PORT})"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

IMAGE_REFERENCE = re.compile(rf"^{_NAME}(?::{_TAG})?(?:@{_DIGEST})?$")
REPOSITORY = re.compile(rf"^{_NAME}$")
IMAGE_PATTERN = re.compile(r"^[A-Za-z0-9_.:/@*?\[\]-]+$")  # a --base-map FROM: a name, a glob or a prefix/
GIT_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+/-]*$")
RUNNER_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,-]+$")


def refuse_breaks(value: str, where: str) -> str:
    """A value for one line of a generated file: no control character (a newline would start a new
    instruction, key or section) and no Unicode line or paragraph separator."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise InputError(f"{where}: {shown(value)} contains the control character U+{ord(bad):04X}",
                         "remove it: a generated file takes each value on one line")
    return value


def comment_lines(text: str) -> list[str]:
    """Text for comment lines of a generated file: split at every line break Python knows (a superset of
    what Dockerfile, HCL, YAML and Apptainer parsers end a line at), other control characters (NUL, ESC)
    written as escapes, so that no text can end a comment early or cut a parser's input short."""
    return ["".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) == "Cc" else c
                    for c in line) for line in text.splitlines()]


def shown(value: str) -> str:
    """A refused value as an error message may show it: never a credential (an error can end up in a log)."""
    from dockyard.spec.secrets import secret_in_value

    kind = secret_in_value(value)
    return f"<hidden: it looks like {kind}>" if kind else repr(value)


def _refuse(where: str, value: str, what: str, hint: str) -> InputError:
    return InputError(f"{where}: {shown(value)} is not {what}", hint)


def image_reference(value: str, where: str) -> str:
    """NAME[:TAG][@DIGEST], as docker and BuildKit parse it; refused otherwise."""
    if len(value) > 255 or not IMAGE_REFERENCE.match(value):
        raise _refuse(where, value, "an image reference",
                      "write one reference such as python:3.11-slim-bookworm or nvcr.io/nvidia/pytorch:25.01-py3 "
                      "(lowercase repository, no spaces, no `AS`, no quotes)")
    return value


REGISTRY = re.compile(rf"^(?:{_DOMAIN}|{_NAME})$")


def registry(value: str, where: str) -> str:
    """Where images are pushed: a registry host (127.0.0.1:5000, ghcr.io) with an optional namespace."""
    if len(value) > 200 or not REGISTRY.match(value):
        raise _refuse(where, value, "a registry",
                      "write e.g. ghcr.io/acme, registry.example.com:5000 or 127.0.0.1:5000 (lowercase, no tag, no "
                      "scheme, no spaces)")
    return value


def repository(value: str, where: str) -> str:
    """A registry and namespace that tags are put under, e.g. ghcr.io/acme (no tag, no digest)."""
    if len(value) > 255 or not REPOSITORY.match(value):
        raise _refuse(where, value, "a registry or repository prefix",
                      "write e.g. ghcr.io/acme or docker.io/acme (lowercase, no tag, no spaces or quotes)")
    return value


def image_pattern(value: str, where: str) -> str:
    """What a base map matches: an image reference, a glob (`nvidia/cuda:*`) or a registry prefix (`nvcr.io/`)."""
    if not IMAGE_PATTERN.match(value):
        raise _refuse(where, value, "an image name, glob or registry prefix",
                      "use letters, digits and . _ - : / @ with * ? [ ] for globs")
    return value


def git_ref(value: str, where: str) -> str:
    """A branch, tag or commit that may be put into a URL or a git command."""
    bad = (not GIT_REF.fullmatch(value) or ".." in value or "//" in value or "@{" in value
           or value.endswith((".", "/", ".lock")) or "/." in value or len(value) > 200)
    if bad:
        raise _refuse(where, value, "a git branch, tag or commit",
                      "write e.g. main, v5.24.0 or a 40-character commit sha (no `..`, spaces, quotes or `$`)")
    return value


def runner_label(value: str, where: str) -> str:
    if not RUNNER_LABEL.match(value):
        raise _refuse(where, value, "a runner label", "write e.g. ubuntu-24.04 or a self-hosted runner's label")
    return value


def cron(value: str, where: str) -> str:
    fields = value.split(" ")
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
        raise _refuse(where, value, "a cron schedule of five fields",
                      'write e.g. "17 3 * * 1" (minute hour day month weekday, UTC)')
    return value
