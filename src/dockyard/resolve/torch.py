"""The torch release and its wheel variant: every candidate that fits, preferred first.

Releases come newest first; within a release the PyPI default CUDA variant first (the most tested), then
the newest. A key the user set leaves one value. Each candidate is pruned here with the rules that the
torch release and variant alone decide (wheels for the asked Python, a torch_xla pair, GPU archs in the
wheels, add-on and transformers bounds on torch); the search tries the rest in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.errors import SpecError
from dockyard.knowledge import archs
from dockyard.knowledge.loader import Knowledge, TorchRelease
from dockyard.resolve.addons import addon_names, addon_torch_blocker
from dockyard.resolve.context import Context, stale_hint, variant_family
from dockyard.resolve.plan import Package, TorchPlan
from dockyard.resolve.transformers import transformers_torch_blocker
from dockyard.spec.model import suggest
from dockyard.spec.requests import version_request


@dataclass(frozen=True)
class TorchChoice:
    """One candidate: all None for torch = "nightly" or "none" (nothing to choose)."""

    version: Version | None
    release: TorchRelease | None
    variant: str | None
    after: int = 0  # how many pruned candidates come before this one in order of preference

    def label(self) -> str:
        return f"torch {self.version} ({self.variant})" if self.version else "torch"


@dataclass
class TorchCandidates:
    rejected: list[tuple[Version, str]] = field(default_factory=list)  # pruned, with the reason, in order


def variant_cuda(k: Knowledge, variant: str) -> Version | None:
    row = k.cuda_variants.get(variant)
    return row.version if row else None


def variant_blockers(ctx: Context, release: TorchRelease, version: Version, variant: str) -> list[str]:
    """Why this variant cannot serve the spec (empty when it can)."""
    reasons: list[str] = []
    spec, k = ctx.spec, ctx.k
    if not variant.startswith("cu"):
        return reasons
    cuda = variant_cuda(k, variant)
    wheel_archs = k.wheel_archs(variant, version)
    cuda_archs = [a for a in spec.gpu_archs if not a.startswith("gfx")]
    if cuda_archs and wheel_archs is not None:
        missing = archs.uncovered(wheel_archs, cuda_archs)
        if missing:
            reasons.append(
                f"the {variant} wheels of torch {version} do not ship sm {', '.join(missing)} "
                f"(they ship {';'.join(wheel_archs)}; source: "
                f"{k.source_text(k.cuda_sources, ['build-cuda', 'release-md', 'cuda13-notes'])})")
    for name in addon_names(spec):
        addon = k.addons.get(name)
        if not addon or cuda is None:
            continue
        for refusal in addon.refuse:
            if refusal.when.get("target", spec.target) == spec.target and "cuda" in refusal.when \
                    and SpecifierSet(refusal.when["cuda"]).contains(cuda):
                reasons.append(f"{name} on CUDA {cuda}: {refusal.reason} "
                               f"(source: {k.source_text(k.addon_sources, list(refusal.sources))})")
    return reasons


def candidate_variants(ctx: Context, release: TorchRelease) -> list[str]:
    """Variants to try for the target, preferred first (the PyPI default CUDA is the most tested)."""
    target = ctx.k.targets[ctx.spec.target]
    if ctx.spec.variant:
        return [ctx.spec.variant]
    if target.family == "cpu":
        return ["cpu"] if release.cpu else []
    if target.family == "xpu":
        return ["xpu"] if release.xpu else []
    if target.family == "rocm":
        return list(reversed(release.rocm))
    ordered = [release.pypi_default] if release.pypi_default in release.cuda else []
    ordered += [v for v in reversed(release.cuda) if v not in ordered]
    return ordered


def python_ok(ctx: Context, release: TorchRelease) -> str | None:
    python = ctx.spec.python
    if python and python not in release.python:
        return (f"torch {release.minor} has no wheels for Python {python} "
                f"(it has {', '.join(release.python)}; source: {ctx.k.source_text(ctx.k.torch_sources, ['pypi'])})")
    return None


def xla_for(k: Knowledge, release: TorchRelease) -> dict[str, Any] | None:
    for row in k.torch_xla:
        if row["torch"] == release.minor:
            return row
    return None


def known_variants(k: Knowledge, family: str | None = None) -> list[str]:
    """Every wheel variant of a known torch release (of one family), in release order."""
    found = [v for r in k.torch_releases for v in r.variants()]
    return [v for v in dict.fromkeys(found) if family is None or variant_family(v) == family]


def other_blockers(ctx: Context, version: Version) -> str | None:
    """Constraints on torch from transformers and add-ons that hold whatever the variant."""
    return transformers_torch_blocker(ctx, version) or addon_torch_blocker(ctx, version)


def _variant_problem(ctx: Context) -> bool:
    """Refuse a variant no target or release can serve (records the problem)."""
    spec, k = ctx.spec, ctx.k
    if not spec.variant:
        return False
    family = variant_family(spec.variant)
    target = k.targets[spec.target]
    nearest = f"Nearest valid choices: {', '.join(known_variants(k, target.family))}"
    if family is None:
        ctx.fail("variant", spec.variant, "not a torch wheel variant (cpu, cuXYZ, rocmX.Y, xpu). "
                 f"{suggest(spec.variant, known_variants(k))}{nearest}", fixed=True)
    elif family != target.family:
        ctx.fail("variant", spec.variant, f"is a {family} wheel variant, but target {spec.target} uses "
                 f"{target.family} wheels. Nearest valid choices: variant = one of "
                 f"{', '.join(known_variants(k, target.family))}, or a {family} target", fixed=True)
    elif spec.variant not in known_variants(k):
        ctx.fail("variant", spec.variant, f"no torch release dockyard knows has {spec.variant} wheels (source: "
                 f"{k.source_text(k.torch_sources, ['test-infra'])}). {suggest(spec.variant, known_variants(k))}"
                 f"{nearest}", fixed=True)
    else:
        return False
    return True


def torch_candidates(ctx: Context, found: TorchCandidates) -> Iterator[TorchChoice]:
    """Every torch release and variant that fits the keys torch alone is checked against, preferred
    first, lazily (the search usually needs the first); `found.rejected` collects the pruned ones. None
    (with problems recorded by the caller) when none fits; one all-None choice for nightly/none."""
    spec, k = ctx.spec, ctx.k
    if spec.torch == "nightly":
        yield TorchChoice(None, None, None)
        return
    if spec.torch == "none":
        if spec.target != "cpu":
            ctx.fail("torch", "none", f"an image without torch is only possible for target cpu, not {spec.target}. "
                     'Nearest valid choices: target = "cpu", or leave torch unset for the newest that fits',
                     fixed=True)
        yield TorchChoice(None, None, None)
        return
    request = SpecifierSet()
    if spec.torch:
        parsed = version_request(spec.torch)
        if parsed is None:
            raise SpecError(f"{ctx.where('torch', spec.torch)}: not a version or specifier",
                            'use "2.6", "2.6.0", ">=2.5,<2.7", "nightly" or "none"')
        request = parsed
    if _variant_problem(ctx):
        return
    matching = [(v, r) for v, r in k.torch_versions() if request.contains(v, prereleases=True)]
    if not matching:
        newest = k.torch_versions()[0][0]
        ctx.fail("torch", spec.torch, f"matches no torch release dockyard knows (known: 2.1.0 to {newest}). "
                 f"{stale_hint(k)}", fixed=True)
        return
    for version, release in matching:
        reason = _release_blocker(ctx, version, release)
        if reason:
            found.rejected.append((version, reason))
            continue
        variants = candidate_variants(ctx, release)
        if not variants:
            family = k.targets[spec.target].family
            found.rejected.append((version, unknown_variants(release, f"{family} wheels") if not release.variants_known
                                   else f"torch {release.minor} has no {family} wheels"))
            continue
        for variant in variants:
            if not release.has_variant(variant):
                found.rejected.append((version, unknown_variants(release, f"{variant} wheels")
                                       if not release.variants_known else
                                       f"torch {version} has no wheel for variant {variant} (its "
                                       f"variants: {', '.join(release.variants())}; source: "
                                       f"{k.source_text(k.torch_sources, ['test-infra'])})"))
                continue
            blockers = variant_blockers(ctx, release, version, variant)
            if blockers:
                found.rejected.extend((version, b) for b in blockers)
            else:
                yield TorchChoice(version, release, variant, len(found.rejected))


def first_torch(ctx: Context) -> TorchChoice | None:
    """The preferred candidate, if any."""
    return next(torch_candidates(ctx, TorchCandidates()), None)


def unknown_variants(release: TorchRelease, what: str) -> str:
    """A release whose variant list is a known gap: say so, instead of claiming the wheels do not exist."""
    return (f"the {what} of torch {release.minor} are not in the knowledge base (only "
            f"{', '.join(release.variants())}, the build PyPI serves, is known: knowledge.toml [[gap]] "
            f"\"torch {release.minor} variants\" says where the facts live)")


def _release_blocker(ctx: Context, version: Version, release: TorchRelease) -> str | None:
    reason = python_ok(ctx, release)
    if reason:
        return reason
    if ctx.spec.target == "tpu" and xla_for(ctx.k, release) is None:
        return (f"no torch_xla release pairs with torch {release.minor} "
                f"(known pairs: {', '.join(str(r['torch']) for r in ctx.k.torch_xla)})")
    return other_blockers(ctx, version)


def torch_plan(ctx: Context, choice: TorchChoice) -> TorchPlan:
    k, spec = ctx.k, ctx.spec
    target = k.targets[spec.target]
    version, release, variant = choice.version, choice.release, choice.variant
    if spec.torch == "none":
        return TorchPlan(None, "none", "", "none", "none")
    if version is None or release is None or variant is None:
        variant = spec.variant or {"cpu": "cpu", "xpu": "xpu", "cuda": "cu130", "rocm": "rocm7.2"}[target.family]
        channel = "nightly" if spec.torch == "nightly" else "release"
        if spec.torch == "nightly":
            ctx.warnings.append("torch = \"nightly\" installs whatever the nightly index serves at build time: "
                                "rebuilds are not reproducible")
        cuda = variant_cuda(k, variant) if variant.startswith("cu") else None
        return TorchPlan(None, variant, k.torch_index_url(variant, channel), channel, target.torch_build,
                         cuda=str(cuda) if cuda else None)
    if not release.variants_known:
        ctx.notes.append(unknown_variants(release, "other wheel variants")
                         + f"; the plan uses {variant}")
    cuda_version = variant_cuda(k, variant) if variant.startswith("cu") else None
    rocm_version = k.rocm_variants[variant].version if variant in k.rocm_variants else None
    wheel_archs: tuple[str, ...] = ()
    if cuda_version is not None:
        wheel_archs = k.wheel_archs(variant, version) or ()
    elif rocm_version is not None:
        rocm = k.rocm["archs"]
        rocm7 = Version(rocm_version) >= Version("7.0")
        wheel_archs = tuple(rocm["wheels"]) + (tuple(rocm["wheels_rocm7"]) if rocm7 else ())
    xla = None
    if spec.target == "tpu":
        row = xla_for(k, release)
        if row:
            xla = Package("torch-xla", str(row["version"]), extras=("tpu",))
    return TorchPlan(str(version), variant, k.torch_index_url(variant), "release", target.torch_build,
                     (), str(cuda_version) if cuda_version else None, rocm_version, wheel_archs, xla)
