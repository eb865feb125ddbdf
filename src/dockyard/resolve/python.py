"""Python: every minor that torch's wheels, the base image, torch_xla, transformers and the pinned
packages all support, newest first (the search tries them in that order); the asked one alone when the spec sets it."""

from __future__ import annotations

from packaging.version import Version

from dockyard.knowledge.loader import TorchRelease
from dockyard.resolve.context import Context
from dockyard.resolve.torch import xla_for
from dockyard.resolve.transformers import transformers_python_candidates


def python_choices(ctx: Context, release: TorchRelease | None) -> list[str]:
    """Candidates, newest first. Records a problem (and returns a stand-in) when none fits."""
    spec, k = ctx.spec, ctx.k
    target = k.targets[spec.target]
    if release is not None:
        candidates = list(release.python)
    elif spec.torch == "none":
        candidates = list(k.python_images)
    else:
        candidates = list(k.torch_nightly["python"])
    torch_label = f"torch {release.minor}" if release else "torch nightly" if spec.torch == "nightly" else "torch"
    constraints: list[tuple[str, list[str], str]] = [
        (torch_label, candidates, k.source_text(k.torch_sources, ["pypi"]))]
    if target.runtime_base.startswith("python:") and not spec.base:
        constraints.append(("the official python images", list(k.python_images),
                            k.source_text(k.python_sources, ["docker-library"])))
    pinned = sorted({python for rows in k.pins.values() for python in rows}, key=Version)
    constraints.append(("dockyard's pinned packages", pinned, "knowledge/pins.toml (scripts/refresh_knowledge.py "
                        "pins each package for these Pythons)"))
    if spec.target == "tpu" and release is not None:
        xla = xla_for(k, release)
        if xla:
            constraints.append((f"torch_xla {xla['version']}", [str(p) for p in xla["python"]], str(xla["source"])))
    constraints.append((f"transformers {spec.transformers}" if spec.transformers else "transformers",
                        transformers_python_candidates(ctx, candidates), str(k.transformers_meta["source"])))
    allowed = sorted((p for p in candidates if all(p in c for _, c, _ in constraints)), key=Version, reverse=True)
    if spec.python:
        for label, values, source in constraints:
            if spec.python not in values:
                ctx.fail("python", spec.python, f"not supported by {label} (supported: {', '.join(values) or 'none'}; "
                         f"source: {source}). Nearest valid choices: {', '.join(reversed(allowed)) or 'none'}")
                break
        return [spec.python]
    if not allowed:
        ctx.fail("python", None, "no Python version satisfies torch, transformers and the base image together")
        return [candidates[-1] if candidates else "3.11"]
    return allowed
