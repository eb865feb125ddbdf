"""resolve: ImageSpec x knowledge -> Plan, or ResolveError listing every conflict with a suggestion.

Order of decisions: torch release and wheel variant together (newest release for which a variant fits
every constraint), then Python, then transformers, then add-ons, modalities, packages and the base.
Every refusal names the file and key, the value, the fact with its source, and the nearest valid
choices. Legal but risky choices become warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.errors import ResolveError, SpecError
from dockyard.knowledge import archs
from dockyard.knowledge.loader import Knowledge, TorchRelease
from dockyard.resolve.parts import (
    addon_torch_blocker,
    newest_transformers_for,
    resolve_addons,
    resolve_base,
    resolve_gpu_archs,
    resolve_modalities,
    resolve_packages,
    resolve_transformers,
    transformers_python_candidates,
    transformers_torch_blocker,
)
from dockyard.resolve.plan import Package, Plan, TorchPlan
from dockyard.spec.model import ImageSpec, suggest
from dockyard.spec.requests import addon_request, version_request

FAMILY_PREFIX = {"cpu": ("cpu",), "cuda": ("cu",), "rocm": ("rocm",), "xpu": ("xpu",)}
DEFAULT_MAX_JOBS = 2
# System packages each profile adds to the final image: CI jobs check out and install the repository at
# job time (git, git-lfs); development images also compile (compilers and headers).
PROFILE_PACKAGES: dict[str, tuple[str, ...]] = {
    "runtime": (),
    "ci": ("git", "git-lfs"),
    "dev": ("build-essential", "git", "git-lfs"),
}
# torch's C++ headers serve only an image that can compile (extension JIT builds).
COMPILERS = frozenset({"build-essential", "g++", "gcc", "clang"})


@dataclass
class Context:
    """What every resolve step shares: the spec, the knowledge, and the problems and warnings so far."""

    spec: ImageSpec
    k: Knowledge
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    torch_version: Version | None = None
    explain: bool = True  # False for the relaxed copies that compute "nearest valid choices"

    def where(self, key: str, value: object | None = None) -> str:
        shown = f" = {value!r}" if value is not None else ""
        return f"{self.spec.source}: [image].{key}{shown}"

    def fail(self, key: str, value: object | None, message: str) -> None:
        self.problems.append(f"{self.where(key, value)}: {message}")


def variant_family(variant: str) -> str | None:
    for family, prefixes in FAMILY_PREFIX.items():
        if any(variant.startswith(p) for p in prefixes):
            return family
    return None


def _variant_cuda(ctx: Context, variant: str) -> Version | None:
    row = ctx.k.cuda_variants.get(variant)
    return row.version if row else None


def variant_blockers(ctx: Context, release: TorchRelease, version: Version, variant: str) -> list[str]:
    """Why this variant cannot serve the spec (empty when it can)."""
    reasons: list[str] = []
    spec = ctx.spec
    if variant.startswith("cu"):
        cuda = _variant_cuda(ctx, variant)
        wheel_archs = ctx.k.wheel_archs(variant, version)
        cuda_archs = [a for a in spec.gpu_archs if not a.startswith("gfx")]
        if cuda_archs and wheel_archs is not None:
            missing = archs.uncovered(wheel_archs, cuda_archs)
            if missing:
                reasons.append(
                    f"the {variant} wheels of torch {version} do not ship sm {', '.join(missing)} "
                    f"(they ship {';'.join(wheel_archs)}; source: "
                    f"{ctx.k.source_text(ctx.k.cuda_sources, ['build-cuda', 'release-md', 'cuda13-notes'])})")
        for name in _addon_names(spec):
            addon = ctx.k.addons.get(name)
            if not addon or cuda is None:
                continue
            for refusal in addon.refuse:
                if refusal.when.get("target", spec.target) == spec.target and "cuda" in refusal.when \
                        and SpecifierSet(refusal.when["cuda"]).contains(cuda):
                    reasons.append(f"{name} on CUDA {cuda}: {refusal.reason} "
                                   f"(source: {ctx.k.source_text(ctx.k.addon_sources, list(refusal.sources))})")
    return reasons


def _addon_names(spec: ImageSpec) -> list[str]:
    names = []
    for entry in spec.addons:
        parsed = addon_request(entry)
        if parsed:
            names.append(parsed.name)
    return names


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


def xla_for(ctx: Context, release: TorchRelease) -> dict[str, Any] | None:
    for row in ctx.k.torch_xla:
        if row["torch"] == release.minor:
            return row
    return None


def choose_torch(ctx: Context) -> tuple[Version | None, TorchRelease | None, str | None]:
    """The newest torch release and variant that fit, or (None, None, None) with problems recorded."""
    spec, k = ctx.spec, ctx.k
    if spec.torch == "nightly":
        return None, None, None
    if spec.torch == "none":
        if spec.target != "cpu":
            ctx.fail("torch", "none", f"an image without torch is only possible for target cpu, not {spec.target}. "
                     'Nearest valid choices: target = "cpu", or leave torch unset for the newest that fits')
        return None, None, None
    request = SpecifierSet()
    if spec.torch:
        parsed = version_request(spec.torch)
        if parsed is None:
            raise SpecError(f"{ctx.where('torch', spec.torch)}: not a version or specifier",
                            'use "2.6", "2.6.0", ">=2.5,<2.7", "nightly" or "none"')
        request = parsed
    if spec.variant:
        family = variant_family(spec.variant)
        target = k.targets[spec.target]
        if family is None:
            ctx.fail("variant", spec.variant, "not a torch wheel variant (cpu, cuXYZ, rocmX.Y, xpu). "
                     f"{suggest(spec.variant, known_variants(k))}"
                     f"Nearest valid choices: {', '.join(known_variants(k, target.family))}")
            return None, None, None
        if family != target.family:
            ctx.fail("variant", spec.variant, f"is a {family} wheel variant, but target {spec.target} uses "
                     f"{target.family} wheels. Nearest valid choices: variant = one of "
                     f"{', '.join(known_variants(k, target.family))}, or a {family} target")
            return None, None, None
        if spec.variant not in known_variants(k):
            ctx.fail("variant", spec.variant, f"no torch release dockyard knows has {spec.variant} wheels (source: "
                     f"{k.source_text(k.torch_sources, ['test-infra'])}). {suggest(spec.variant, known_variants(k))}"
                     f"Nearest valid choices: {', '.join(known_variants(k, target.family))}")
            return None, None, None
    matching = [(v, r) for v, r in k.torch_versions() if request.contains(v, prereleases=True)]
    if not matching:
        newest = k.torch_versions()[0][0]
        ctx.fail("torch", spec.torch, f"matches no torch release dockyard knows (known: 2.1.0 to {newest}); "
                 "if it is new, add it to knowledge/torch.toml with its sources")
        return None, None, None
    rejected: list[tuple[Version, str]] = []
    for version, release in matching:
        if not release.variants_known and not spec.variant:
            rejected.append((version, f"the wheel variants of torch {release.minor} are not in the knowledge "
                             f"base (only the PyPI default {release.pypi_default} is); update knowledge/torch.toml"))
            continue
        reason = python_ok(ctx, release)
        if reason:
            rejected.append((version, reason))
            continue
        if spec.target == "tpu" and xla_for(ctx, release) is None:
            rejected.append((version, f"no torch_xla release pairs with torch {release.minor} "
                             f"(known pairs: {', '.join(str(r['torch']) for r in k.torch_xla)})"))
            continue
        blocker = _other_blockers(ctx, version)
        if blocker:
            rejected.append((version, blocker))
            continue
        variants = candidate_variants(ctx, release)
        if not variants:
            rejected.append((version, f"torch {release.minor} has no {k.targets[spec.target].family} wheels"))
            continue
        for variant in variants:
            if not release.has_variant(variant):
                rejected.append((version, f"torch {version} has no wheel for variant {variant} (its variants: "
                                 f"{', '.join(release.variants())}; source: "
                                 f"{k.source_text(k.torch_sources, ['test-infra'])})"))
                continue
            blockers = variant_blockers(ctx, release, version, variant)
            if not blockers:
                return version, release, variant
            rejected.extend((version, b) for b in blockers)
    if ctx.explain:
        _explain_torch_failure(ctx, rejected)
    else:
        ctx.problems.append("no torch release fits")
    return None, None, None


def known_variants(k: Knowledge, family: str | None = None) -> list[str]:
    """Every wheel variant of a known torch release (of one family), in release order."""
    found = [v for r in k.torch_releases for v in r.variants()]
    return [v for v in dict.fromkeys(found) if family is None or variant_family(v) == family]


def _other_blockers(ctx: Context, version: Version) -> str | None:
    """Constraints on torch from transformers and add-ons that hold whatever the variant."""
    return transformers_torch_blocker(ctx, version) or addon_torch_blocker(ctx, version)


UNINFORMATIVE = ("has no wheel for variant", "are not in the knowledge base")


def _explain_torch_failure(ctx: Context, rejected: list[tuple[Version, str]]) -> None:
    """Report the most telling reason: a constraint that failed on a release that otherwise fits."""
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
    from dataclasses import replace

    spec, k = ctx.spec, ctx.k
    hints: list[str] = []
    if spec.variant and no_such_variant:
        releases = [r.minor for r in k.torch_releases if r.has_variant(spec.variant)]
        if releases:
            hints.append(f"torch releases with {spec.variant} wheels: {', '.join(releases)}")
    if spec.python:
        relaxed = Context(replace(spec, python=None), k, explain=False)
        version, release, _ = choose_torch(relaxed)
        relaxed.torch_version = version
        python = choose_python(relaxed, release) if release else None
        if release and python and not relaxed.problems:
            hints.append(f'python = "{python}" (torch {version} has wheels for {", ".join(release.python)})')
    asked_torch = spec.torch not in (None, "none", "nightly")
    if torch_key and asked_torch and not (spec.variant and no_such_variant):
        relaxed = Context(replace(spec, torch=None), k, explain=False)
        version, release, _ = choose_torch(relaxed)
        if release is not None:
            hints.append(f'torch = "{release.minor}" (the newest release that fits the rest of the spec)')
    request = version_request(spec.torch) if spec.torch and spec.torch != "nightly" else SpecifierSet()
    if spec.variant and request is not None:
        relaxed = Context(_without_variant(spec), k)
        for version, release in k.torch_versions():
            if not request.contains(version, prereleases=True) or not release.variants_known:
                continue
            if python_ok(relaxed, release) or _other_blockers(relaxed, version):
                continue
            fitting = [v for v in candidate_variants(relaxed, release)
                       if not variant_blockers(relaxed, release, version, v)]
            if fitting:
                hints.append(f'torch {version} works with variant = "{fitting[0]}"')
                break
    return ("Nearest valid choices: " + "; ".join(hints) + ".") if hints else ""


def _without_variant(spec: ImageSpec) -> ImageSpec:
    from dataclasses import replace

    return replace(spec, variant=None)


def choose_python(ctx: Context, release: TorchRelease | None) -> str:
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
    if spec.target == "tpu" and release is not None:
        xla = xla_for(ctx, release)
        if xla:
            constraints.append((f"torch_xla {xla['version']}", [str(p) for p in xla["python"]], str(xla["source"])))
    constraints.append((f"transformers {spec.transformers}" if spec.transformers else "transformers",
                        transformers_python_candidates(ctx, candidates), str(k.transformers_meta["source"])))
    allowed = [p for p in candidates if all(p in c for _, c, _ in constraints)]
    if spec.python:
        for label, values, source in constraints:
            if spec.python not in values:
                ctx.fail("python", spec.python, f"not supported by {label} (supported: {', '.join(values) or 'none'}; "
                         f"source: {source}). Nearest valid choices: {', '.join(allowed) or 'none'}")
                break
        return spec.python
    if not allowed:
        ctx.fail("python", None, "no Python version satisfies torch, transformers and the base image together")
        return candidates[-1] if candidates else "3.11"
    return max(allowed, key=lambda p: Version(p))


def torch_plan(ctx: Context, version: Version | None, release: TorchRelease | None, variant: str | None,
               python: str) -> TorchPlan:
    k, spec = ctx.k, ctx.spec
    target = k.targets[spec.target]
    if spec.torch == "none":
        return TorchPlan(None, "none", "", "none", "none")
    if version is None or release is None or variant is None:
        variant = spec.variant or {"cpu": "cpu", "xpu": "xpu", "cuda": "cu130", "rocm": "rocm7.2"}[target.family]
        channel = "nightly" if spec.torch == "nightly" else "release"
        if spec.torch == "nightly":
            ctx.warnings.append("torch = \"nightly\" installs whatever the nightly index serves at build time: "
                                "rebuilds are not reproducible")
        cuda = _variant_cuda(ctx, variant) if variant.startswith("cu") else None
        return TorchPlan(None, variant, k.torch_index_url(variant, channel), channel, target.torch_build,
                         cuda=str(cuda) if cuda else None)
    patch = str(version)
    companions: list[Package] = []
    cuda_version = _variant_cuda(ctx, variant) if variant.startswith("cu") else None
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
        row = xla_for(ctx, release)
        if row:
            xla = Package("torch-xla", str(row["version"]), extras=("tpu",))
    return TorchPlan(patch, variant, k.torch_index_url(variant), "release", target.torch_build,
                     tuple(companions), str(cuda_version) if cuda_version else None, rocm_version, wheel_archs, xla)


def resolve(spec: ImageSpec, knowledge: Knowledge | None = None) -> Plan:
    """Decide everything, or raise ResolveError with every problem found."""
    k = knowledge or Knowledge.load()
    ctx = Context(spec, k)
    if spec.target not in k.targets:  # spec validation already refuses this; keep the message anyway
        raise ResolveError([f"{ctx.where('target', spec.target)}: unknown target. "
                            f"{suggest(spec.target, list(k.targets))}choose from {', '.join(k.targets)}"])
    version, release, variant = choose_torch(ctx)
    ctx.torch_version = version
    python = choose_python(ctx, release)
    torch = torch_plan(ctx, version, release, variant, python)
    transformers = resolve_transformers(ctx, torch, python)
    gpu_archs = resolve_gpu_archs(ctx, torch)
    addons, addon_needs = resolve_addons(ctx, torch, python, gpu_archs)
    modal = resolve_modalities(ctx, torch, release, python)
    torch = TorchPlan(torch.version, torch.variant, torch.index_url, torch.channel, torch.build,
                      modal.companions, torch.cuda, torch.rocm, torch.wheel_archs, torch.xla)
    packages, package_needs = resolve_packages(ctx, python, modal.packages)
    compile_needed = addon_needs.compile or package_needs.compile or spec.profile == "dev"
    base = resolve_base(ctx, torch, python, compile_needed)
    if ctx.problems:
        raise ResolveError(ctx.problems, "run `dockyard check` again after changing the spec; "
                           "`dockyard presets` lists specs known to resolve")
    target = k.targets[spec.target]
    if spec.user == "root":
        ctx.warnings.append(f"{ctx.where('user', 'root')}: the image will run as root; any process that escapes "
                            "the model code owns the container. Prefer the default non-root user")
    slim = spec.slim if spec.slim is not None else spec.profile != "dev"
    env = {**target.env, **dict(spec.env)}
    system = sorted({*target.runtime_packages, *modal.system, *addon_needs.runtime_packages,
                     *spec.system_packages, *PROFILE_PACKAGES[spec.profile]})
    has_compiler = bool(COMPILERS & set(system))
    if addon_needs.keep_torch_headers and not has_compiler:
        ctx.notes.append("an add-on JIT-compiles ops at run time, but the final image has no compiler: only its "
                         "prebuilt ops work (add build-essential to system-packages for JIT builds)")
    build_packages = sorted({*addon_needs.build_packages, *package_needs.build_packages,
                             *(("build-essential",) if compile_needed else ()),
                             *(("binutils",) if slim else ()),
                             *(("ca-certificates", "curl") if transformers.editable else ())})
    return Plan(
        spec=spec,
        name=spec.name,
        target=spec.target,
        profile=spec.profile,
        python=python,
        torch=torch,
        transformers=transformers,
        runtime_base=base.runtime,
        builder_base=base.builder,
        distro=base.distro,
        compile=compile_needed,
        gpu_archs=gpu_archs,
        packages=packages,
        addons=addons,
        system_packages=tuple(system),
        build_packages=tuple(build_packages),
        uninstall=target.uninstall,
        env=tuple(sorted(env.items())),
        user=spec.user,
        uid=0 if spec.user == "root" else 1000,
        slim=slim,
        keep_torch_headers=has_compiler,
        bytecode=spec.bytecode,
        files=spec.files,
        entrypoint=spec.entrypoint,
        cmd=spec.cmd,
        imports=tuple(dict.fromkeys((*modal.imports, *addon_needs.imports))),
        tools=tuple(dict.fromkeys((*modal.tools, *addon_needs.tools))),
        libraries=modal.libraries,
        max_jobs=DEFAULT_MAX_JOBS,
        warnings=tuple(ctx.warnings),
        notes=tuple(ctx.notes + base.notes),
        extra_paths=addon_needs.paths,
        uv=(k.uv["version"], k.uv["url"], k.uv["sha256"]),
    )
