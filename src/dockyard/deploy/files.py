"""Write generated deployment files into an output folder with the writer `render -o` uses
(render/owned.py): the folder's manifest (`.dockyard-files`) lists what dockyard wrote there, only those
files are replaced or removed (an HPA that was dropped goes), any other file or link in the way is
refused before anything is written, and each file is written to a temporary file and renamed over its
path (never through a link)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dockyard.deploy.model import MARKER
from dockyard.render.owned import OwnedFolder


def header(kind: str, source: str, image: str, notes: Sequence[str] = ()) -> list[str]:
    """Comment lines for a generated YAML file (no timestamps: the same spec, the same bytes); `notes` say
    what an operator must know before applying it (an image not pinned by digest)."""
    return [f"{MARKER} ({kind}) from {source}; regenerate with `dockyard deploy` rather than editing.",
            f"image: {image}", *(f"note: {note}" for note in notes)]


def write_all(folder: Path, files: Mapping[str, str], option: str = "-o") -> list[Path]:
    """Write `files` (name -> text) into `folder`, which may also hold the user's own files; returns the
    paths written. What an earlier run wrote and this one does not is removed."""
    out = OwnedFolder(folder, option)
    out.check(files, shared=True)
    out.remove_stale()
    written = out.write(files)
    out.finish()
    return written
