"""Prepare a build context: rendered files, the wheelhouse, app files. Clean up what was made."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from dockyard.errors import InputError
from dockyard.render.renderer import Rendered


@dataclass
class Context:
    path: Path
    temporary: bool
    wheels: list[str]

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})


def fits_variant(wheel: str, variant: str) -> bool:
    """A torch-family wheel with a local version (+cpu, +cu126) serves only that variant: a CPU wheel in
    the wheelhouse must not win over the index in a CUDA image (pip prefers the local version)."""
    project, version, _, _ = parse_wheel_filename(wheel)
    return project not in TORCH_FAMILY or not version.local or version.local == variant


def link_wheelhouse(source: Path, target: Path, variant: str = "") -> list[str]:
    """Hard-link (or copy, across file systems) the wheels of `source` that fit the variant into `target`."""
    if not source.is_dir():
        raise InputError(f"--wheelhouse {source}: not a directory", "give the folder that holds the .whl files")
    names = []
    for wheel in sorted(source.glob("*.whl")):
        try:
            if not fits_variant(wheel.name, variant):
                continue
        except InvalidWheelFilename:
            continue
        destination = target / wheel.name
        if destination.exists():
            destination.unlink()
        try:
            os.link(wheel, destination)
        except OSError:
            shutil.copy2(wheel, destination)
        names.append(wheel.name)
    return names


def prepare(rendered: Rendered, directory: Path | None, wheelhouse: Path | None, variant: str = "") -> Context:
    """Write the context into `directory` (kept) or a fresh temporary directory (removed by cleanup)."""
    if directory is not None:  # only files that dockyard wrote there before are replaced (its manifest)
        path, temporary = directory, False
    else:
        path, temporary = Path(tempfile.mkdtemp(prefix="dockyard-context-")), True
    try:
        rendered.write(path, "--context-dir")
        wheels = link_wheelhouse(wheelhouse, path / "wheels", variant) if wheelhouse else []
    except BaseException:
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return Context(path, temporary, wheels)


def wheel_provides(wheels: list[str], project: str, version: str) -> str | None:
    """The wheel in the wheelhouse that provides project==version (any local version), if any."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    for name in wheels:
        wheel_project, wheel_version, _, _ = parse_wheel_filename(name)
        if wheel_project == canonicalize_name(project) and Version(wheel_version.base_version) == Version(version):
            return name
    return None
