"""What every resolve step shares: the spec, the knowledge, and the problems, warnings and notes so far.

One Context serves one attempt of the search (one torch release, variant and Python); a problem recorded
as `fixed` holds whatever the search picks for the open keys, so the search stops at the first one and
such problems are listed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.version import Version

from dockyard.knowledge.folder import REFRESH_HINT
from dockyard.knowledge.loader import Knowledge
from dockyard.spec.model import ImageSpec

FAMILY_PREFIX = {"cpu": ("cpu",), "cuda": ("cu",), "rocm": ("rocm",), "xpu": ("xpu",)}


@dataclass
class Context:
    spec: ImageSpec
    k: Knowledge
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # knowledge rows that are missing, and how to supply them
    reasons: list[str] = field(default_factory=list)  # each problem without its file and key
    fixed_count: int = 0  # how many problems no choice of the open keys can avoid (listed first)
    by_python: bool = False  # a problem that another Python might avoid was recorded
    torch_version: Version | None = None
    explain: bool = True  # False for the relaxed copies that compute "nearest valid choices"

    def where(self, key: str, value: object | None = None, table: str = "image") -> str:
        shown = f" = {value!r}" if value is not None else ""
        return f"{self.spec.source}: [{table}].{key}{shown}"

    def fail(self, key: str, value: object | None, message: str, fixed: bool = False, short: str = "",
             by_python: bool = False, table: str = "image") -> None:
        """Record a problem. `fixed`: it depends only on keys the user set (no search can avoid it);
        `by_python`: another Python might avoid it; `short`: the reason as a note about a skipped choice
        tells it (default: the message); `table`: the spec table of the key ([image], or [serve])."""
        at = self.fixed_count if fixed else len(self.problems)  # problems no choice avoids come first
        self.problems.insert(at, f"{self.where(key, value, table)}: {message}")
        self.reasons.insert(at, short or message)
        self.fixed_count += fixed
        self.by_python |= by_python

    @property
    def fixed(self) -> bool:
        """A problem that no choice of the open keys can avoid was recorded."""
        return self.fixed_count > 0


def variant_family(variant: str) -> str | None:
    for family, prefixes in FAMILY_PREFIX.items():
        if any(variant.startswith(p) for p in prefixes):
            return family
    return None


def refreshed(k: Knowledge) -> str:
    """The day the knowledge in use was refreshed from PyPI (knowledge.toml), for messages."""
    return k.manifest.refreshed.isoformat() if k.manifest else "an unknown day"


def stale_hint(k: Knowledge) -> str:
    """What to say when a spec asks for a release newer than the knowledge."""
    what = k.manifest.describe() if k.manifest else "the knowledge base"
    return f"If it is new: dockyard uses {what}; {REFRESH_HINT}"
