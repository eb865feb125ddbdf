"""Write generated files into an output folder, safely: every file starts with dockyard's marker, a
file without it is never overwritten, and dockyard files of an earlier run that this run no longer
writes (an HPA that was dropped) are removed, so the folder holds exactly this run's output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dockyard.deploy.model import MARKER
from dockyard.errors import InputError


def header(kind: str, source: str, image: str) -> list[str]:
    """Comment lines for a generated YAML file (no timestamps: the same spec, the same bytes)."""
    return [f"{MARKER} ({kind}) from {source}; regenerate with `dockyard deploy` rather than editing.",
            f"image: {image}"]


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return MARKER in handle.readline()
    except OSError:
        return False


def write_all(folder: Path, files: Mapping[str, str], family: Sequence[str] = ()) -> list[Path]:
    """Write `files` (name -> text) into `folder`. `family`: every name this output kind can write;
    those of them not written now are removed when they are dockyard's."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o {folder}: not a directory", "give a folder for the generated files")
    foreign = [name for name in files if (folder / name).exists() and not _ours(folder / name)]
    if foreign:
        verbs = "exists and was" if len(foreign) == 1 else "exist and were"
        raise InputError(f"-o {folder}: {', '.join(sorted(foreign))} {verbs} not written by dockyard; not overwriting",
                         "choose another folder with -o, or move " + ("that file" if len(foreign) == 1 else
                                                                        "those files") + " away")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(files.items()):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for name in sorted(set(family) - set(files)):
        stale = folder / name
        if stale.is_file() and _ours(stale):
            stale.unlink()
    return written
