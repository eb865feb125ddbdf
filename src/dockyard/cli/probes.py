"""The probes' results as a table or `name: value` lines: shared by `verify IMAGE`, `verify --host` and
`build`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from dockyard.cli.tables import Column, Listing
from dockyard.verify.run import ProbeResult


def probe_listing(title: str, results: Sequence[ProbeResult]) -> Listing:
    """`✓ name` with `expected:`, `actual:` and `detail:` under it, or one table row per probe."""
    listing = Listing((Column("", key=True), Column("probe", key=True), Column("expected"), Column("actual"),
                       Column("detail")), title=title)
    for result in results:
        listing.add(Text("✓", style="green") if result.ok else Text("✗", style="red"), result.name,
                    short(result.expected), short(result.actual), result.detail[:300])
    return listing


def short(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"
