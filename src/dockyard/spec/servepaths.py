"""Paths inside a serve container that a spec chooses: the Hugging Face cache (`[image.env].HF_HOME`,
mounted as a volume) and a `mount:` model's folder. Both become mount points in compose, Kubernetes and
`dockyard up`, so each must be an absolute, clean path that hides nothing the image needs: not the model,
the virtualenv, the interpreter, dockyard's probe, /tmp (a tmpfs) or a system folder, and not each other.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from dockyard.errors import SpecError

CLEAN_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
MODELS = PurePosixPath("/models")  # where mount: models go
# Never a mount point, nor above one: mounting there would hide the image's own files.
COVERED = tuple(PurePosixPath(p) for p in ("/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr", "/opt/venv",
                                           "/opt/python", "/opt/dockyard", "/tmp", "/proc", "/sys", "/dev", "/run"))
# Never a mount point inside one either (a tmpfs, kernel files, the image's environment).
INSIDE = tuple(PurePosixPath(p) for p in ("/tmp", "/proc", "/sys", "/dev", "/run", "/opt/venv", "/opt/python",
                                          "/opt/dockyard"))


def overlap(a: PurePosixPath, b: PurePosixPath) -> bool:
    """One path is the other or lies inside it."""
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def clean_path(value: str) -> str | None:
    """The problem with `value` as an absolute container path, or None."""
    if not CLEAN_PATH.match(value):
        return "not an absolute path of letters, digits and '._-' components (no spaces, ':', '$' or a trailing '/')"
    if any(part in (".", "..") for part in value.split("/")):
        return "has '.' or '..' components"
    return None


def reserved(path: PurePosixPath) -> str | None:
    """Why `path` cannot be a mount point, or None."""
    if path == PurePosixPath("/"):
        return "is the root of the file system"
    for system in COVERED:
        if path == system or system.is_relative_to(path):
            return f"would hide {system} in the container"
    for system in INSIDE:
        if path.is_relative_to(system):
            return f"lies inside {system}"
    return None


def check_mount_path(value: str, where: str) -> str:
    """A `mount:` model's folder: under /models, clean."""
    problem = clean_path(value) or (None if PurePosixPath(value).is_relative_to(MODELS)
                                    and PurePosixPath(value) != MODELS else "is not a folder under /models")
    if problem:
        raise SpecError(f'{where}: "{value}" {problem}', "write e.g. mount:/models/NAME")
    return value


def check_cache_path(value: str, model: str, where: str) -> None:
    """`[image.env].HF_HOME` of a serve image: the cache volume's mount point."""
    problem = clean_path(value)
    path = PurePosixPath(value)
    if problem is None:
        problem = reserved(path)
    if problem is None and overlap(path, PurePosixPath(model)):
        problem = f"overlaps the model's folder {model} (the empty cache would hide it, or the model the cache)"
    if problem:
        raise SpecError(f'{where} = "{value}": {problem}',
                        "leave HF_HOME unset (the user's ~/.cache/huggingface) or give a folder of its own, e.g. "
                        '"/var/cache/huggingface"')
