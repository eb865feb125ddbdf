"""The smallest set of the user's own keys that cannot work together, and what would make it work.

Start from every resolve-relevant key the spec sets; drop each key in turn (back to its default, so
the search chooses it) and keep it dropped while the rest still fails: what stays is a set in which
every key is needed for the conflict. Then try the whole spec without each of those keys: a spec that
resolves that way is a concrete way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.knowledge.loader import Knowledge
from dockyard.resolve.search import search
from dockyard.spec.model import ImageSpec

# spec key -> ImageSpec attribute, in the order messages list them
KEYS = {"torch": "torch", "variant": "variant", "python": "python", "transformers": "transformers",
        "profile": "profile", "addons": "addons", "gpu-archs": "gpu_archs", "modalities": "modalities",
        "extras": "extras", "packages": "packages", "exclude": "exclude", "base": "base"}
DEFAULTS = {attr: getattr(ImageSpec("", "cpu"), attr) for attr in KEYS.values()}


@dataclass(frozen=True)
class Conflict:
    spec: ImageSpec
    keys: tuple[str, ...] = ()
    ways_out: tuple[str, ...] = field(default=())  # "without [image].KEY: torch X (variant), Python Y"

    def describe(self) -> str:
        shown = ", ".join(f"[image].{key} = {_value(self.spec, key)!r}" for key in self.keys)
        what = "conflict" if len(self.keys) > 1 else "cannot work"
        text = f"the smallest set of your keys that {what} (with target = {self.spec.target!r}): {shown}"
        if self.ways_out:
            return f"{text}; it resolves {' or '.join(self.ways_out)}"
        return f"{text}; changing one of them alone is not enough"


def _value(spec: ImageSpec, key: str) -> Any:
    value = getattr(spec, KEYS[key])
    return list(value) if isinstance(value, tuple) else value


def _without(spec: ImageSpec, keys: list[str] | tuple[str, ...]) -> ImageSpec:
    changes: dict[str, Any] = {KEYS[key]: DEFAULTS[KEYS[key]] for key in keys}
    return replace(spec, **changes)


def _works(spec: ImageSpec, k: Knowledge) -> bool:
    return search(spec, k, explain=False).plan is not None


def smallest_conflict(spec: ImageSpec, k: Knowledge) -> Conflict:
    """Keys whose values the user set, as small a set as still fails (empty if the target alone fails)."""
    asked = [key for key, attr in KEYS.items() if getattr(spec, attr) != DEFAULTS[attr]]
    kept = list(asked)
    for key in asked:
        trial = [other for other in kept if other != key]
        if not _works(_without(spec, [other for other in asked if other not in trial]), k):
            kept = trial
    if _works(_without(spec, [key for key in asked if key not in kept]), k):
        return Conflict(spec)  # the spec fails for another reason than its keys (a knowledge gap)
    ways: list[str] = []
    for key in kept:
        found = search(_without(spec, [key]), k, explain=False).plan
        if found is not None:
            torch = f"torch {found.torch.version} ({found.torch.variant})" if found.torch.version else "torch"
            ways.append(f"without [image].{key} ({torch}, Python {found.python})")
    return Conflict(spec, tuple(kept), tuple(ways))
