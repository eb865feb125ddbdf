"""Why no torch release fits: the most telling reason among the pruned candidates, the key it belongs
to, and the nearest valid choices (a release with the asked variant, a Python, a torch, a transformers)."""

from __future__ import annotations

from dataclasses import replace

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.resolve.context import Context
from dockyard.resolve.python import python_choices
from dockyard.resolve.torch import (
    candidate_variants,
    first_torch,
    other_blockers,
    python_ok,
    variant_blockers,
)
from dockyard.resolve.transformers import newest_transformers_for
from dockyard.spec.requests import version_request

UNINFORMATIVE = ("has no wheel for variant", "are not in the knowledge base")


def explain_torch_failure(ctx: Context, rejected: list[tuple[Version, str]]) -> None:
    """Report the most telling reason: a constraint that failed on a release that otherwise fits."""
    if not ctx.explain:
        ctx.problems.append("no torch release fits")
        return
    spec = ctx.spec
    telling = [reason for _, reason in rejected if not any(u in reason for u in UNINFORMATIVE)]
    reason = (telling or [r for _, r in rejected] or ["no torch release fits"])[0]
    key: str
    value: object
    if "do not ship sm" in reason and spec.gpu_archs:
        key, value = "gpu-archs", list(spec.gpu_archs)
    elif " on CUDA " in reason:  # an add-on refused with the CUDA of the variant
        key, value = ("variant", spec.variant) if spec.variant else ("addons", list(spec.addons))
    elif reason.startswith("transformers"):
        key, value = "transformers", spec.transformers
    elif reason.startswith("no ") and "pairs with torch" in reason and spec.addons:
        key, value = "addons", list(spec.addons)
    elif spec.torch:
        key, value = "torch", spec.torch
    elif spec.variant:
        key, value = "variant", spec.variant
    else:
        key, value = "target", spec.target
    alternatives = _nearest_choices(ctx, no_such_variant=not telling, torch_key=key == "torch")
    if key == "transformers" and rejected:
        alternatives = _transformers_choice(ctx, rejected[0][0]) or alternatives
    ctx.fail(key, value, f"{reason}. {alternatives}".strip())


def _transformers_choice(ctx: Context, torch: Version) -> str:
    found = newest_transformers_for(ctx, torch)
    return f'Nearest valid choices: transformers = "{found}" (the newest release that supports torch {torch}).' \
        if found else ""


def _nearest_choices(ctx: Context, no_such_variant: bool, torch_key: bool = False) -> str:
    """Suggest releases that have the asked variant, a variant that works for the asked torch, a Python
    that works with the asked torch, or the newest torch that fits the rest of the spec."""
    spec, k = ctx.spec, ctx.k
    hints: list[str] = []
    if spec.variant and no_such_variant:
        releases = [r.minor for r in k.torch_releases if r.has_variant(spec.variant)]
        if releases:
            hints.append(f"torch releases with {spec.variant} wheels: {', '.join(releases)}")
    if spec.python:
        relaxed = Context(replace(spec, python=None), k, explain=False)
        first = first_torch(relaxed)
        if first is not None and first.release is not None:
            relaxed.torch_version = first.version
            python = python_choices(relaxed, first.release)[0]
            if not relaxed.problems:
                hints.append(f'python = "{python}" (torch {first.version} has wheels for '
                             f'{", ".join(first.release.python)})')
    asked_torch = spec.torch not in (None, "none", "nightly")
    if torch_key and asked_torch and not (spec.variant and no_such_variant):
        relaxed = Context(replace(spec, torch=None), k, explain=False)
        first = first_torch(relaxed)
        if first is not None and first.release is not None:
            hints.append(f'torch = "{first.release.minor}" (the newest release that fits the rest of the spec)')
    request = version_request(spec.torch) if spec.torch and spec.torch != "nightly" else SpecifierSet()
    if spec.variant and request is not None:
        relaxed = Context(replace(spec, variant=None), k)
        for version, release in k.torch_versions():
            if not request.contains(version, prereleases=True) or not release.variants_known:
                continue
            if python_ok(relaxed, release) or other_blockers(relaxed, version):
                continue
            fitting = [v for v in candidate_variants(relaxed, release)
                       if not variant_blockers(relaxed, release, version, v)]
            if fitting:
                hints.append(f'torch {version} works with variant = "{fitting[0]}"')
                break
    return ("Nearest valid choices: " + "; ".join(hints) + ".") if hints else ""
