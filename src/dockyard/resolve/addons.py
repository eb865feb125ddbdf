"""Add-ons (DeepSpeed, flash-attn, bitsandbytes ...): the version paired with torch, what installing
needs (a compile stage, build packages, an arch list), and what the probe checks."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge import archs
from dockyard.knowledge.loader import Addon
from dockyard.resolve.context import Context
from dockyard.resolve.packages import Needs, pinned
from dockyard.resolve.plan import AddonPlan, TorchPlan
from dockyard.spec.model import ImageSpec, suggest
from dockyard.spec.requests import AddonRequest, addon_request, is_commit


def addon_names(spec: ImageSpec) -> list[str]:
    """The add-on names of the spec's well-formed entries."""
    names = []
    for entry in spec.addons:
        parsed = addon_request(entry)
        if parsed:
            names.append(parsed.name)
    return names


def addon_torch_blocker(ctx: Context, torch: Version) -> str | None:
    for entry in ctx.spec.addons:
        parsed = addon_request(entry)
        addon = ctx.k.addons.get(parsed.name) if parsed else None
        if addon is None or (parsed and parsed.version):
            continue
        sources = ctx.k.source_text(ctx.k.addon_sources, list(addon.sources))
        if addon.torch and not SpecifierSet(addon.torch).contains(torch, prereleases=True):
            return f"{addon.name} needs torch {addon.torch} (source: {sources})"
        if addon.releases and not any(SpecifierSet(t).contains(torch, prereleases=True) for _, t in addon.releases):
            return f"no {addon.name} release pairs with torch {torch} (pairs: " + \
                ", ".join(f"{v} for torch {t}" for v, t in addon.releases) + f"; source: {sources})"
    return None


def fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _template_values(gpu_archs: tuple[str, ...]) -> dict[str, str]:
    cuda = [a for a in gpu_archs if not a.startswith("gfx")]
    rocm = [a for a in gpu_archs if a.startswith("gfx")]
    return {
        "max_jobs": "${MAX_JOBS}",
        "cuda_archs": ";".join(cuda),
        "cuda_archs_nodot": archs.nodot(cuda) if cuda else "",
        "rocm_archs": ";".join(rocm),
    }


def resolve_addons(ctx: Context, torch: TorchPlan, python: str,
                   gpu_archs: tuple[str, ...]) -> tuple[tuple[AddonPlan, ...], Needs]:
    spec, k = ctx.spec, ctx.k
    needs = Needs()
    plans: list[AddonPlan] = []
    values = _template_values(gpu_archs)
    torch_version = Version(torch.version) if torch.version else None
    for entry in spec.addons:
        parsed = addon_request(entry)
        if parsed is None:
            ctx.fail("addons", entry, 'not an add-on entry; write "name", "name==version" or "name@commit"', fixed=True)
            continue
        addon = k.addons.get(parsed.name)
        if addon is None:
            ctx.fail("addons", entry, f"unknown add-on. {suggest(parsed.name, list(k.addons))}"
                     f"known add-ons: {', '.join(sorted(k.addons))}", fixed=True)
            continue
        sources = k.source_text(k.addon_sources, list(addon.sources))
        if torch.build == "none" and not addon.script:
            ctx.fail("addons", entry, f"{addon.name} needs torch, and the spec sets torch = \"none\"", fixed=True)
            continue
        if spec.target not in addon.targets:
            ctx.fail("addons", entry, f"{addon.name} is not supported on target {spec.target} (it supports "
                     f"{', '.join(addon.targets)}; source: {sources})", fixed=True)
            continue
        for refusal in addon.refuse:
            if "cuda" in refusal.when:
                continue  # decided together with the wheel variant
            if refusal.when.get("target", spec.target) == spec.target:
                ctx.fail("addons", entry, f"{refusal.reason}. {refusal.suggest}", fixed=True)
        if addon.min_cuda_arch and torch.cuda:
            low = [a for a in gpu_archs if not a.startswith("gfx")
                   and archs.parse_cc(a) < archs.parse_cc(addon.min_cuda_arch)]
            if low:
                ctx.fail("gpu-archs", low, f"{addon.name} supports sm {addon.min_cuda_arch} and newer only "
                         f"(source: {sources}); drop {', '.join(low)} or the add-on", fixed=bool(spec.gpu_archs))
        version, requirement_text = _addon_version(ctx, addon, parsed, python, torch_version, entry)
        if requirement_text is None:
            continue
        compiles = spec.target in addon.compile_on
        needs.compile |= compiles
        own_step = addon.own_step and not compiles
        if compiles:
            needs.build_packages.update(addon.build_packages)
        needs.runtime_packages.update(addon.runtime_packages)
        needs.keep_torch_headers |= addon.keep_torch_headers
        if addon.import_name:
            needs.imports.append(addon.import_name)
        if addon.probe_tool:
            needs.tools.append(addon.probe_tool)
        if addon.path:
            needs.paths = (*needs.paths, addon.path)
        build_env = tuple(sorted((key, fill(v, values)) for key, v in addon.build_env.items()
                                 if fill(v, values))) if compiles or own_step else ()
        build_python = tuple(pinned(ctx, name, python, "addons") for name in addon.build_python) \
            if compiles or own_step else ()
        plans.append(AddonPlan(
            name=addon.name, version=version, requirement=requirement_text, import_name=addon.import_name,
            compile=compiles, no_build_isolation=addon.no_build_isolation, pip_args=addon.pip_args,
            build_env=build_env, build_python=build_python, script=addon.script,
            script_env=tuple(sorted((key, fill(v, values)) for key, v in addon.script_env.items())),
            runtime_paths=addon.runtime_paths, path=addon.path, probe_tool=addon.probe_tool,
            probes=tuple((p.name, p.code, p.gpu) for p in addon.probes if compiles or not p.compiled),
            index_url=torch.index_url if spec.target in addon.torch_index and torch.index_url else "",
            own_step=own_step,
        ))
    return tuple(plans), needs


def _addon_version(ctx: Context, addon: Addon, parsed: AddonRequest, python: str, torch: Version | None,
                   entry: str) -> tuple[str | None, str | None]:
    if addon.script:
        return addon.script_env.get("JUMANPP_VERSION"), ""
    if addon.source_url:
        ref = parsed.ref or addon.default_ref
        if not ref:
            ctx.fail("addons", entry, f"{addon.name} is built from source and the knowledge base has no pinned "
                     f'commit for it; write addons = ["{addon.name}@<commit sha>"]', fixed=True)
            return None, None
        if not is_commit(ref):
            ctx.warnings.append(f"{ctx.where('addons', entry)}: {ref!r} is not a commit sha and can move")
        return ref, f"{addon.pip} @ {addon.source_url.format(ref=ref)}"
    if parsed.ref:
        ctx.fail("addons", entry, f"{addon.name} installs from PyPI; pin a version with {addon.name}==X instead",
                 fixed=True)
        return None, None
    if parsed.version:
        return parsed.version, f"{addon.pip}=={parsed.version}"
    pin = ctx.k.pin(addon.pip, python)
    if pin is None:
        ctx.fail("addons", entry, f"no release of {addon.pip} installs on Python {python} (PyPI, knowledge/pins.toml)",
                 by_python=True)
        return None, None
    version = pin["version"]
    if addon.releases and torch is not None:
        paired = [v for v, spec in addon.releases if SpecifierSet(spec).contains(torch, prereleases=True)]
        if paired:
            version = paired[0]
    return version, f"{addon.pip}=={version}"


