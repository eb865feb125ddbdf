"""Transformers' originals (reference data beside the project): tests that read them skip when the folder is
absent, saying why."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REFERENCE = Path("/work/shared/reference/transformers-docker")
if not REFERENCE.is_dir():  # the checkout's sibling folder, wherever the project lies
    REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "transformers-docker"


def reference_files() -> list[str]:
    """The Dockerfiles of the reference copy (SOURCES.tsv), docker/-relative; empty when it is absent."""
    table = REFERENCE / "SOURCES.tsv"
    if not table.is_file():
        return []
    with table.open(encoding="utf-8") as handle:
        return [row["path"] for row in csv.DictReader(handle, delimiter="\t")
                if not row["path"].endswith((".sh", ".hcl"))]


def need_reference() -> None:
    if not (REFERENCE / "SOURCES.tsv").is_file():
        pytest.skip(f"transformers' originals are not here ({REFERENCE}): they are reference data beside the "
                    "project, not part of it")
