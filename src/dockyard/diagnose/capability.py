"""What this machine's GPUs can run, the question users ask most of doctor: which torch wheel variants
this driver and these GPUs run, which dockyard targets build for them, and which compiled add-ons build
for their archs.

Targets and add-ons are asked of `resolve`, with the GPUs' archs as `gpu-archs` and one wheel variant
at a time, so doctor answers with exactly the rules (and the knowledge base) a build would use.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.diagnose.data import rocm_gfx_supported, torch_cuda_variants, variant_support, variants_for_capability
from dockyard.diagnose.host import Check
from dockyard.errors import InputError
from dockyard.knowledge.loader import Knowledge
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import spec_from_dict

if TYPE_CHECKING:
    from dockyard.diagnose.facts import Facts

# A source-built add-on without a pinned commit (apex) only asks resolve whether it could build: any
# commit does for that question.
ANY_COMMIT = "0" * 40
CPU_TARGETS = ("cpu", "intel-cpu")


@dataclass(frozen=True)
class Fit:
    """The wheel variants a target or add-on builds with here, or why none does."""

    variants: tuple[str, ...]
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"variants": list(self.variants), "reason": self.reason or None}


@dataclass(frozen=True)
class Capability:
    vendor: str  # "nvidia" or "amd"
    archs: tuple[str, ...]  # compute capabilities ("9.0") or gfx targets ("gfx942")
    variants: tuple[str, ...]  # torch wheel variants that run on this driver and ship these archs
    targets: dict[str, Fit] = field(default_factory=dict)
    addons: dict[str, Fit] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()  # archs of GPUs here that no torch wheel runs on (left out above)

    def to_dict(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "archs": list(self.archs), "unsupported": list(self.unsupported),
                "variants": list(self.variants),
                "targets": {k: v.to_dict() for k, v in sorted(self.targets.items())},
                "addons": {k: v.to_dict() for k, v in sorted(self.addons.items())}}


def _fit(target: str, variants: tuple[str, ...], archs: tuple[str, ...], addon: str = "") -> Fit:
    """Resolve a spec for each variant; the variants that resolve, or the last one's reason. Python is left
    to resolve first, then the Pythons the knowledge base knows are tried (resolve picks the newest Python
    a torch supports, which an add-on may not have releases for yet)."""
    fits, reason = [], ""
    for variant in variants:
        image: dict[str, Any] = {"name": "doctor", "target": target, "variant": variant, "gpu-archs": list(archs)}
        if addon:
            image["addons"] = [addon]
        problem = _problem(image)
        if problem:
            problem = _with_some_python(image, problem)
        if problem:
            reason = problem
            continue
        fits.append(variant)
    return Fit(tuple(fits), "" if fits else reason or "no torch wheel variant runs on this GPU and driver")


def _with_some_python(image: dict[str, Any], problem: str) -> str:
    """"" when a Python the knowledge base knows makes the spec resolve, else `problem`. The oldest goes
    first: when it fails the same way, the problem is not the Python and the others are not tried."""
    pythons = Knowledge.load().python_images
    oldest = _problem({**image, "python": pythons[0]})
    if oldest in ("", problem):
        return oldest
    return "" if any(not _problem({**image, "python": p}) for p in reversed(pythons[1:])) else problem


def _problem(image: dict[str, Any]) -> str:
    """"" when resolve accepts the spec, else its first problem."""
    return _resolve_problem(json.dumps(image, sort_keys=True))


@functools.lru_cache(maxsize=1024)
def _resolve_problem(image_json: str) -> str:
    """Cached by the spec's text: the knowledge base does not change while dockyard runs."""
    try:
        resolve(spec_from_dict({"image": json.loads(image_json)}, "doctor", "doctor"))
    except InputError as exc:
        problems = getattr(exc, "problems", None) or [exc.message]
        return str(problems[0]).removeprefix("doctor: ")
    return ""


def _addon_request(name: str) -> str:
    addon = Knowledge.load().addons[name]
    return f"{name}@{ANY_COMMIT}" if addon.source_url and not addon.default_ref else name


def _compiled_addons(target: str, variants: tuple[str, ...], archs: tuple[str, ...]) -> dict[str, Fit]:
    addons = Knowledge.load().addons
    return {name: _fit(target, variants, archs, _addon_request(name)) for name, addon in sorted(addons.items())
            if target in addon.compile_on and target in addon.targets}


def nvidia_capability(driver: str, capabilities: tuple[str, ...]) -> Capability:
    """GPUs no wheel runs on are set aside (`unsupported`); the answer is for the others."""
    support = variant_support(driver)
    usable = {cc: {v for v in variants_for_capability(cc) if support.get(v, "no") != "no"} for cc in capabilities}
    archs = tuple(cc for cc in capabilities if usable[cc])
    variants = tuple(v for v in torch_cuda_variants() if archs and all(v in usable[cc] for cc in archs))
    targets = {"cuda": _fit("cuda", variants, archs)}
    return Capability("nvidia", archs, variants, targets, _compiled_addons("cuda", targets["cuda"].variants, archs),
                      tuple(cc for cc in capabilities if not usable[cc]))


def rocm_capability(gfx: tuple[str, ...]) -> Capability:
    """Integrated GPUs the wheels do not ship (gfx1036 beside a gfx1100) are set aside (`unsupported`)."""
    k = Knowledge.load()
    published = [v for v in k.rocm_variants if any(r.has_variant(v) for r in k.torch_releases)]
    archs = tuple(g for g in gfx if rocm_gfx_supported(g) != "no")
    newest_only = any(rocm_gfx_supported(g) == "rocm7" for g in archs)
    variants = tuple(v for v in published if archs and
                     (not newest_only or int(k.rocm_variants[v].version.split(".")[0]) >= 7))
    targets = {"rocm": _fit("rocm", variants, archs)}
    return Capability("amd", archs, variants, targets, _compiled_addons("rocm", targets["rocm"].variants, archs),
                      tuple(g for g in gfx if g not in archs))


def gpu_capability(facts: Facts) -> Capability | None:
    """From doctor's NVIDIA or ROCm facts; None without a GPU whose arch is known."""
    nvidia: dict[str, Any] = facts.gpu.get("nvidia") or {}
    capabilities = tuple(sorted({g["compute_cap"] for g in nvidia.get("gpus") or []
                                 if g.get("compute_cap", "").replace(".", "", 1).isdigit()}))
    if nvidia.get("driver") and capabilities:
        return nvidia_capability(str(nvidia["driver"]), capabilities)
    rocm: dict[str, Any] = facts.gpu.get("rocm") or {}
    gfx = tuple(sorted({g["gfx"].split(":")[0] for g in rocm.get("gpus") or []}))
    return rocm_capability(gfx) if gfx else None


def _fit_text(name: str, fit: Fit) -> str:
    return f"{name} with {', '.join(fit.variants)}" if fit.variants else f"not {name} ({fit.reason})"


def capability_check(capability: Capability | None) -> Check:
    """doctor's `gpu-capability` finding, from `gpu_capability(facts)`."""
    if capability is None:
        return Check("gpu-capability", "skip", f"no GPU with a known arch: targets {', '.join(CPU_TARGETS)} "
                     "(and tpu on a TPU VM)", group="gpu")
    archs = ", ".join(capability.archs)
    aside = (f" ({', '.join(capability.unsupported)}: no torch wheel runs on it, left out)"
             if capability.unsupported else "")
    if not any(f.variants for f in capability.targets.values()):
        return Check("gpu-capability", "fail", f"{capability.vendor} {archs or 'GPUs'}{aside}: no dockyard GPU target "
                     f"builds for it: {'; '.join(f.reason for f in capability.targets.values())}",
                     "see nvidia-driver / nvidia-arch / rocm above for the driver or arch to change", "gpu")
    lines = [f"{capability.vendor} {archs}{aside}: torch wheels {', '.join(capability.variants)}",
             "targets: " + "; ".join([*(_fit_text(n, f) for n, f in sorted(capability.targets.items())),
                                      *CPU_TARGETS])]
    compiles = [_fit_text(n, f) for n, f in sorted(capability.addons.items()) if f.variants]
    refused = [_fit_text(n, f) for n, f in sorted(capability.addons.items()) if not f.variants]
    if compiles:
        lines.append("compiled add-ons that build for it: " + "; ".join(compiles))
    if refused:
        lines.append("add-ons that do not: " + "; ".join(refused))
    return Check("gpu-capability", "ok", "\n".join(lines), group="gpu")
