"""Which images a scale command works on: presets and spec files named on the command line, or --all.

Every name is loaded and resolved before anything is written or built, so a typo fails fast (exit 2)
and two entries that would produce the same image name (and so the same tags) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import InputError
from dockyard.knowledge.loader import preset_names
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Selected:
    ref: str  # what the user wrote: a preset name or a spec file path
    plan: Plan

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def heavy(self) -> bool:
        """Compiles something (extensions, source packages): needs the whole MAX_JOBS budget."""
        return self.plan.compile or any(addon.compile for addon in self.plan.addons)


def refs(names: Sequence[str], all_presets: bool) -> list[str]:
    if all_presets and names:
        raise InputError("give image names or --all, not both", "--all means every preset (`dockyard presets`)")
    if all_presets:
        return preset_names()
    if not names:
        raise InputError("no images given", "name presets or spec files, or use --all for every preset")
    return list(dict.fromkeys(names))


def select(names: Sequence[str], all_presets: bool = False) -> list[Selected]:
    chosen = [Selected(ref, resolve(load(ref))) for ref in refs(names, all_presets)]
    seen: dict[str, str] = {}
    for item in chosen:
        if item.name in seen:
            raise InputError(f"{seen[item.name]} and {item.ref} both make an image named {item.name!r}, so their "
                             "tags and state would collide",
                             'give one of them its own [image] name = "..." in its spec file')
        seen[item.name] = item.ref
    return chosen


def tag_safe(text: str) -> str:
    """Text usable inside an image tag ([A-Za-z0-9_.-])."""
    return _SAFE.sub("-", text).strip("-.") or "x"


def version_tag(plan: Plan, args: dict[str, str], var: dict[str, str] | None = None) -> str:
    """The versions part of a tag: torch2.13.0-cpu-transformers5.24.0-py3.11 (no torch: transformers...-py3.11).

    `var` maps an ARG to the text to put in its place (a bake interpolation such as ${TORCH_VERSION});
    ARGs without an entry are written as their value, made tag-safe."""
    var = var or {}

    def value(name: str) -> str:
        return var.get(name) or tag_safe(args[name])

    parts = []
    if "TORCH_VERSION" in args:
        torch = value("TORCH_VERSION") if args["TORCH_VERSION"] else "-nightly"  # a nightly pins no version
        parts.append(f"torch{torch}-{tag_safe(plan.torch.variant)}")
    if "TRANSFORMERS_VERSION" in args:
        parts.append(f"transformers{value('TRANSFORMERS_VERSION')}")
    elif "TRANSFORMERS_REF" in args:
        parts.append(f"transformers-{value('TRANSFORMERS_REF')}")
    parts.append(f"py{plan.python}")
    return "-".join(parts)
