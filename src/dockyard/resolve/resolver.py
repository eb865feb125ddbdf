"""The entry point: `resolve(spec, knowledge) -> Plan`, or ResolveError.

resolve searches the choices the user left open (search.py). When nothing fits, the error lists the
problems of the preferred combination (each naming the file, key, value, the fact with its source and
the nearest valid choices), and its hint names the smallest set of the user's keys that conflict and
what would make the spec work (conflict.py).
"""

from __future__ import annotations

from dockyard.errors import ResolveError
from dockyard.knowledge.loader import Knowledge
from dockyard.resolve.conflict import smallest_conflict
from dockyard.resolve.context import Context, variant_family
from dockyard.resolve.plan import Plan
from dockyard.resolve.search import search
from dockyard.resolve.torch import known_variants
from dockyard.spec.model import ImageSpec, suggest

__all__ = ["known_variants", "resolve", "variant_family"]

HINT = "run `dockyard check` again after changing the spec; `dockyard presets` lists specs known to resolve"


def resolve(spec: ImageSpec, knowledge: Knowledge | None = None, *, explain: bool = True) -> Plan:
    """Decide everything, or raise ResolveError with every problem found. `explain` False skips the
    search for the smallest conflicting set of keys (for callers that only need the first reason)."""
    k = knowledge or Knowledge.load()
    if spec.target not in k.targets:  # spec validation already refuses this; keep the message anyway
        where = Context(spec, k).where("target", spec.target)
        raise ResolveError([f"{where}: unknown target. {suggest(spec.target, list(k.targets))}"
                            f"choose from {', '.join(k.targets)}"])
    outcome = search(spec, k)
    if outcome.plan is not None:
        return outcome.plan
    if not explain:
        raise ResolveError(outcome.problems, HINT)
    conflict = smallest_conflict(spec, k)
    raise ResolveError(outcome.problems, f"{conflict.describe()}; {HINT}" if conflict.keys else HINT,
                       conflict=conflict.keys)
