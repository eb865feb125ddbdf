#!/usr/bin/env python3
"""Refresh knowledge/originals/: the inventory of every original a preset's fidelity record names.

Reads a copy of transformers' docker/ folder (a checkout of huggingface/transformers, or the reference
copy whose SOURCES.tsv gives each file's commit) with dockyard's reader and writes one TOML file per
record: the files it comes from, their commits and digests, and every item the reader finds. dockyard
compares presets with these files; it never reads the originals themselves at run time.

    python scripts/refresh_originals.py DOCKER_FOLDER            # write knowledge/originals/*.toml
    python scripts/refresh_originals.py DOCKER_FOLDER --check    # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from dockyard.knowledge.fidelity import load_record
from dockyard.knowledge.loader import preset_dir, preset_names
from dockyard.readback.originals import ORIGINALS_DIR, original_document, original_file


def commits(folder: Path) -> dict[str, str]:
    """docker/PATH -> commit, from SOURCES.tsv when the folder has one."""
    table = folder / "SOURCES.tsv"
    if not table.is_file():
        return {}
    with table.open(encoding="utf-8") as handle:
        return {f"docker/{row['path']}": row["commit"] for row in csv.DictReader(handle, delimiter="\t")}


def documents(folder: Path) -> dict[Path, str]:
    known = commits(folder)
    out: dict[Path, str] = {}
    for name in preset_names():
        record = load_record(preset_dir() / f"{name}.toml")
        if record is None:
            continue
        texts = []
        for path in record.originals:
            file = folder / path.removeprefix("docker/")
            if not file.is_file():
                raise SystemExit(f"{file}: missing (preset {name} names {path})")
            texts.append((path, file.read_text(encoding="utf-8")))
        shas = tuple(known.get(path, "unknown") for path in record.originals)
        out[original_file(record.originals)] = original_document(record.originals, shas, texts)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="transformers' docker/ folder (or the reference copy)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a stored inventory is out of date")
    args = parser.parse_args(argv)
    wanted = documents(args.folder)
    stale = [path for path, text in wanted.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    extra = sorted(set(ORIGINALS_DIR.glob("*.toml")) - set(wanted))
    if args.check:
        for path in [*stale, *extra]:
            print(f"{path}: out of date; run scripts/refresh_originals.py", file=sys.stderr)
        return 1 if stale or extra else 0
    ORIGINALS_DIR.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
    for path in extra:
        path.unlink()
    print(f"{len(wanted)} originals, {len(stale)} written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
