"""The GitHub Actions a generated workflow uses, pinned by full commit SHA with the release as a comment.

A tag can be moved to other code; a commit SHA cannot. dockyard cannot reach GitHub when it generates
a workflow, so these defaults are data checked by hand: each SHA is the one transformers' own image
workflows pin (their 7-character prefixes are quoted in dockyard's reference notes) and was found, with
the same release comment, in several independent public workflows. `--action-pin OWNER/REPO=SHA#vX.Y`
replaces one (e.g. after Dependabot proposes a newer release); `dockyard ci github --help` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import InputError

_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?$")


@dataclass(frozen=True)
class Pin:
    action: str  # owner/repo
    sha: str
    version: str  # the release the SHA is, as a comment

    def uses(self) -> str:
        return f"{self.action}@{self.sha}"


DEFAULT_PINS: Mapping[str, Pin] = {
    pin.action: pin
    for pin in (
        Pin("actions/checkout", "de0fac2e4500dabe0009e67214ff5f5447ce83dd", "v6.0.2"),
        Pin("docker/setup-buildx-action", "d7f5e7f509e45cec5c76c4d5afdd7de93d0b3df5", "v4.1.0"),
        Pin("docker/login-action", "650006c6eb7dba73a995cc03b0b2d7f5ca915bee", "v4.2.0"),
        Pin("docker/build-push-action", "f9f3042f7e2789586610d6e8b85c8f03e5195baf", "v7.2.0"),
    )
}


def parse_pin(text: str) -> Pin:
    """OWNER/REPO=SHA or OWNER/REPO=SHA#VERSION."""
    action, sep, rest = text.partition("=")
    sha, _, version = rest.partition("#")
    sha = sha.strip().lower()
    if not sep or not _REPO.match(action.strip()):
        raise InputError(f"--action-pin {text!r}: not OWNER/REPO=SHA[#VERSION]",
                         "e.g. --action-pin actions/checkout=de0fac2e4500dabe0009e67214ff5f5447ce83dd#v6.0.2")
    if not _SHA.match(sha):
        raise InputError(f"--action-pin {text!r}: {sha!r} is not a full 40-character commit SHA",
                         "a tag or a short SHA can be moved or be ambiguous; copy the full SHA of the release "
                         "commit from the action's releases page")
    version = version.strip()
    if version and not _VERSION.match(version):
        raise InputError(f"--action-pin {text!r}: the version {version!r} is not a release name",
                         "write the release after #, e.g. #v6.0.2 (letters, digits, . _ + -)")
    return Pin(action.strip(), sha, version or "pinned by --action-pin")


def pins(overrides: Sequence[str] = ()) -> dict[str, Pin]:
    table = dict(DEFAULT_PINS)
    for text in overrides:
        pin = parse_pin(text)
        if pin.action not in table:
            raise InputError(f"--action-pin {pin.action}: the workflow does not use this action",
                             f"it uses: {', '.join(sorted(table))}")
        table[pin.action] = pin
    return table
