"""The resolve steps after torch: transformers, GPU archs, add-ons, modalities, packages, base image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from dockyard.knowledge import archs
from dockyard.knowledge.accelerators import base_accelerator
from dockyard.resolve.plan import AddonPlan, Package, TorchPlan, TransformersPlan
from dockyard.spec.model import suggest
from dockyard.spec.requests import (
    addon_request,
    exact_version,
    is_commit,
    requirement,
    version_request,
)

if TYPE_CHECKING:
    from dockyard.knowledge.loader import TorchRelease
    from dockyard.resolve.resolver import Context

RESERVED = {"torch": "torch", "transformers": "transformers", "torchvision": "modalities (vision)",
            "torchaudio": "modalities (audio)", "torch-xla": "target = \"tpu\""}


def _name(text: str) -> str:
    return str(canonicalize_name(text))


# -- transformers ------------------------------------------------------------------------------------

def _transformers_request(ctx: Context) -> SpecifierSet | None:
    value = ctx.spec.transformers
    if value is None:
        return SpecifierSet()
    if value == "main" or value.startswith("git:"):
        return None
    request = version_request(value)
    if request is None:
        from dockyard.errors import SpecError

        raise SpecError(f"{ctx.where('transformers', value)}: not a version, specifier, \"main\" or \"git:<ref>\"",
                        'use e.g. "5.24.0", ">=5.20", "main" or "git:<commit sha>"')
    return request


def broken_extras(ctx: Context, version: Version) -> list[tuple[str, str]]:
    """(extra, reason) for the spec's extras that cannot install on this transformers release."""
    found = []
    for row in ctx.k.transformers_meta.get("broken_extra", []):
        if SpecifierSet(row["versions"]).contains(version):
            found += [(extra, row["reason"]) for extra in ctx.spec.extras if extra in row["extras"]]
    return found


def _compatible_transformers(ctx: Context, torch: Version | None, python: str | None,
                             extras: bool = True) -> list[Version]:
    """Known releases matching the spec's request that support torch and python (and, with `extras`,
    whose asked extras can be installed), newest first."""
    request = _transformers_request(ctx)
    if request is None:
        return []
    found = []
    for text in reversed(ctx.k.transformers_versions):
        version = Version(text)
        if not request.contains(version) or (extras and broken_extras(ctx, version)):
            continue
        row = ctx.k.transformers_range(version)
        if row is None:
            continue
        if torch is not None and not row.torch.contains(torch, prereleases=True):
            continue
        if python is not None and not row.python.contains(f"{python}.0"):
            continue
        found.append(version)
    return found


def newest_with_working_extras(ctx: Context) -> str | None:
    for text in reversed(ctx.k.transformers_versions):
        if not broken_extras(ctx, Version(text)):
            return text
    return None


def newest_transformers_for(ctx: Context, torch: Version) -> str | None:
    for text in reversed(ctx.k.transformers_versions):
        row = ctx.k.transformers_range(Version(text))
        if row and row.torch.contains(torch, prereleases=True) and (
                ctx.spec.python is None or row.python.contains(f"{ctx.spec.python}.0")):
            return text
    return None


def _unknown_transformers(ctx: Context) -> bool:
    """A transformers request that matches no known release (resolve_transformers reports it)."""
    request = _transformers_request(ctx)
    return request is not None and not any(request.contains(v) for v in ctx.k.transformers_versions)


def transformers_torch_blocker(ctx: Context, torch: Version) -> str | None:
    """transformers' torch bound; its Python bound is reported by the Python step."""
    if _transformers_request(ctx) is None or _unknown_transformers(ctx):
        return None
    if _compatible_transformers(ctx, torch, None, extras=False):
        return None
    asked = ctx.spec.transformers or "any known release"
    return (f"transformers {asked} does not support torch {torch} (lower bound of its torch extra, PyPI "
            "metadata)")


def transformers_python_candidates(ctx: Context, candidates: list[str]) -> list[str]:
    if _transformers_request(ctx) is None or _unknown_transformers(ctx):
        return list(candidates)
    torch = getattr(ctx, "torch_version", None)
    return [p for p in candidates if _compatible_transformers(ctx, torch, p, extras=False)]


def resolve_transformers(ctx: Context, torch: TorchPlan, python: str) -> TransformersPlan:
    spec, k = ctx.spec, ctx.k
    editable = spec.profile == "dev"
    value = spec.transformers
    archive = k.transformers_meta["archive"]
    if value is not None and (value == "main" or value.startswith("git:")):
        ref = "main" if value == "main" else value[4:]
        if not ref:
            ctx.fail("transformers", value, 'empty git ref; write "git:<commit sha>" or "git:v5.24.0"')
        elif not is_commit(ref):
            ctx.warnings.append(f"{ctx.where('transformers', value)}: {ref!r} can move, so rebuilds may install "
                                "different code; pin a 40-character commit sha for reproducible images")
        ctx.notes.append("transformers from a git ref: its Python and torch requirements are not checked")
        extras = _extras(ctx, None)
        return TransformersPlan(None, ref, extras, archive.format(ref=ref), editable)
    torch_version = Version(torch.version) if torch.version else None
    found = _compatible_transformers(ctx, torch_version, python)
    if not found:
        request = _transformers_request(ctx)
        known = [v for v in k.transformers_versions if request is None or request.contains(v)]
        if not known:
            ctx.fail("transformers", value, f"matches no release dockyard knows (newest known "
                     f"{k.transformers_versions[-1]}); run scripts/refresh_knowledge.py if it is new")
        elif broken := broken_extras(ctx, Version(known[-1])):
            extra, reason = broken[0]
            working = newest_with_working_extras(ctx)
            instead = f'; transformers = "{working}" has a working {extra} extra' if working else ""
            ctx.fail("extras", extra, f"the {extra} extra of transformers {known[-1]} cannot be installed: {reason}. "
                     f"Nearest valid choices: drop the extra and list the packages you need{instead}")
        elif not ctx.problems:
            row = k.transformers_range(Version(known[-1]))
            detail = f"needs Python {row.python} and torch {row.torch}" if row else "has no known requirements"
            ctx.fail("transformers", value, f"transformers {known[-1]} {detail} (PyPI metadata), the plan has "
                     f"Python {python} and torch {torch.version or 'nightly'}")
        return TransformersPlan(None, None, ())
    version = found[0]
    url = archive.format(ref=f"v{version}") if editable else None
    return TransformersPlan(str(version), None, _extras(ctx, version), url, editable)


def _extras(ctx: Context, version: Version | None) -> tuple[str, ...]:
    known = ctx.k.transformers_extras(version)
    for extra in ctx.spec.extras:
        if extra not in known:
            ctx.fail("extras", extra, f"not an extra of transformers {version or '(newest)'}. "
                     f"{suggest(extra, known)}known extras: {', '.join(known)}")
    return tuple(sorted(set(ctx.spec.extras)))


# -- GPU archs ---------------------------------------------------------------------------------------

def resolve_gpu_archs(ctx: Context, torch: TorchPlan) -> tuple[str, ...]:
    spec, k = ctx.spec, ctx.k
    family = k.targets[spec.target].family
    if family not in ("cuda", "rocm"):
        if spec.gpu_archs:
            ctx.fail("gpu-archs", list(spec.gpu_archs), f"applies to cuda and rocm targets, not {spec.target}. "
                     'Nearest valid choices: remove gpu-archs, or set target = "cuda" or "rocm"')
        return ()
    if family == "rocm":
        rocm = k.rocm["archs"]
        rocm7 = torch.rocm is not None and Version(torch.rocm) >= Version("7.0")
        wanted = spec.gpu_archs or tuple(rocm["default_rocm7"] if rocm7 else rocm["default"])
        shipped = set(torch.wheel_archs)
        for arch in wanted:
            if not arch.startswith("gfx"):
                ctx.fail("gpu-archs", arch, "is a CUDA capability; rocm targets take gfx names such as gfx942")
            elif shipped and arch not in shipped:
                ctx.fail("gpu-archs", arch, f"is not built into the {torch.variant} wheels (they ship "
                         f"{';'.join(sorted(shipped))}; source: {k.rocm['sources']['pytorch-rocm-arch']})")
        return tuple(wanted)
    if torch.cuda is None:
        return tuple(spec.gpu_archs)
    variant = k.cuda_variants[torch.variant]
    toolkit = Version(variant.toolkit)
    wanted = spec.gpu_archs or k.default_cuda_archs(toolkit)
    for arch in wanted:
        if arch.startswith("gfx"):
            ctx.fail("gpu-archs", arch, "is a ROCm gfx target; cuda targets take compute capabilities like 9.0")
            continue
        cc = archs.parse_cc(arch)
        row = k.cuda_gpus.get(cc.plain)
        if row is None:
            ctx.fail("gpu-archs", arch, f"is not a known compute capability (known: {', '.join(k.cuda_gpus)})")
            continue
        if not archs.toolkit_supports(arch, toolkit, row["first_cuda"], row.get("last_cuda_major")):
            last = row.get("last_cuda_major")
            why = (f"CUDA {toolkit.major} dropped {row['name']} (last supported in CUDA {last}.x)"
                   if last is not None and toolkit.major > last
                   else f"{arch} needs CUDA {archs.first_toolkit(arch, row['first_cuda'])} or newer")
            ctx.fail("gpu-archs", arch, f"CUDA {variant.toolkit} of variant {torch.variant} cannot compile for sm "
                     f"{cc.plain}: {why} (source: {k.source_text(k.cuda_sources, list(row['sources']))})")
    return tuple(wanted)


# -- add-ons -----------------------------------------------------------------------------------------

@dataclass
class Needs:
    compile: bool = False
    build_packages: set[str] = field(default_factory=set)
    runtime_packages: set[str] = field(default_factory=set)
    keep_torch_headers: bool = False
    imports: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    paths: tuple[str, ...] = ()


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


def _fill(template: str, values: dict[str, str]) -> str:
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
            ctx.fail("addons", entry, 'not an add-on entry; write "name", "name==version" or "name@commit"')
            continue
        addon = k.addons.get(parsed.name)
        if addon is None:
            ctx.fail("addons", entry, f"unknown add-on. {suggest(parsed.name, list(k.addons))}"
                     f"known add-ons: {', '.join(sorted(k.addons))}")
            continue
        sources = k.source_text(k.addon_sources, list(addon.sources))
        if torch.build == "none" and not addon.script:
            ctx.fail("addons", entry, f"{addon.name} needs torch, and the spec sets torch = \"none\"")
            continue
        if spec.target not in addon.targets:
            ctx.fail("addons", entry, f"{addon.name} is not supported on target {spec.target} (it supports "
                     f"{', '.join(addon.targets)}; source: {sources})")
            continue
        for refusal in addon.refuse:
            if "cuda" in refusal.when:
                continue  # decided together with the wheel variant
            if refusal.when.get("target", spec.target) == spec.target:
                ctx.fail("addons", entry, f"{refusal.reason}. {refusal.suggest}")
        if addon.min_cuda_arch and torch.cuda:
            low = [a for a in gpu_archs if not a.startswith("gfx")
                   and archs.parse_cc(a) < archs.parse_cc(addon.min_cuda_arch)]
            if low:
                ctx.fail("gpu-archs", low, f"{addon.name} supports sm {addon.min_cuda_arch} and newer only "
                         f"(source: {sources}); drop {', '.join(low)} or the add-on")
        version, requirement_text = _addon_version(ctx, addon, parsed, python, torch_version, entry)
        if requirement_text is None:
            continue
        compiles = spec.target in addon.compile_on
        needs.compile |= compiles
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
        build_env = tuple(sorted((key, _fill(v, values)) for key, v in addon.build_env.items()
                                 if _fill(v, values)))
        build_python = tuple(_pinned(ctx, name, python, "addons") for name in addon.build_python)
        plans.append(AddonPlan(
            name=addon.name, version=version, requirement=requirement_text, import_name=addon.import_name,
            compile=compiles, no_build_isolation=addon.no_build_isolation, pip_args=addon.pip_args,
            build_env=build_env, build_python=build_python, script=addon.script,
            script_env=tuple(sorted((key, _fill(v, values)) for key, v in addon.script_env.items())),
            runtime_paths=addon.runtime_paths, path=addon.path, probe_tool=addon.probe_tool,
        ))
    return tuple(plans), needs


def _addon_version(ctx: Context, addon, parsed, python: str, torch: Version | None,  # type: ignore[no-untyped-def]
                   entry: str) -> tuple[str | None, str | None]:
    if addon.script:
        return addon.script_env.get("JUMANPP_VERSION"), ""
    if addon.source_url:
        ref = parsed.ref or addon.default_ref
        if not ref:
            ctx.fail("addons", entry, f"{addon.name} is built from source and the knowledge base has no pinned "
                     f'commit for it; write addons = ["{addon.name}@<commit sha>"]')
            return None, None
        if not is_commit(ref):
            ctx.warnings.append(f"{ctx.where('addons', entry)}: {ref!r} is not a commit sha and can move")
        return ref, f"{addon.pip} @ {addon.source_url.format(ref=ref)}"
    if parsed.ref:
        ctx.fail("addons", entry, f"{addon.name} installs from PyPI; pin a version with {addon.name}==X instead")
        return None, None
    if parsed.version:
        return parsed.version, f"{addon.pip}=={parsed.version}"
    pin = ctx.k.pin(addon.pip, python)
    if pin is None:
        ctx.fail("addons", entry, f"no release of {addon.pip} installs on Python {python} (PyPI, knowledge/pins.toml)")
        return None, None
    version = pin["version"]
    if addon.releases and torch is not None:
        paired = [v for v, spec in addon.releases if SpecifierSet(spec).contains(torch, prereleases=True)]
        if paired:
            version = paired[0]
    return version, f"{addon.pip}=={version}"


# -- modalities and packages ---------------------------------------------------------------------------

@dataclass
class Modal:
    packages: list[Package] = field(default_factory=list)
    companions: tuple[Package, ...] = ()
    system: set[str] = field(default_factory=set)
    imports: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    libraries: tuple[str, ...] = ()


def _pinned(ctx: Context, name: str, python: str, key: str) -> Package:
    pin = ctx.k.pin(name, python)
    if pin is None:
        ctx.fail(key, name, f"knowledge/pins.toml has no release of {name} for Python {python}; add it to "
                 "scripts/refresh_knowledge.py and rerun it, or pin it in packages")
        return Package(name)
    return Package(name, pin["version"])


def resolve_modalities(ctx: Context, torch: TorchPlan, release: TorchRelease | None, python: str) -> Modal:
    spec, k = ctx.spec, ctx.k
    excluded = {_name(e) for e in spec.exclude}
    modal = Modal()
    companions: dict[str, Package] = {}
    wanted_companions: list[tuple[str, str]] = []
    for name in spec.modalities:
        modality = k.modalities[name]
        modal.system.update(modality.system)
        modal.tools.extend(modality.tools)
        modal.libraries = (*modal.libraries, *modality.libraries)
        modal.imports.extend(i for i in modality.imports if _name(i) not in excluded)
        modal.packages.extend(_pinned(ctx, p, python, "modalities") for p in modality.packages
                              if _name(p) not in excluded)
        wanted_companions.extend((c, f"modality {name}") for c in modality.torch_companions)
    extra_companions = k.transformers_meta.get("extra_companions", {})
    for extra in spec.extras:
        wanted_companions.extend((c, f"extra {extra}") for c in extra_companions.get(extra, []))
    for name, why in wanted_companions:
        if name in companions:
            continue
        if name in excluded:
            if why.startswith("extra"):
                ctx.fail("exclude", name, f"the transformers {why} requires {name}; pip would fetch PyPI's build "
                         "of it. Drop the extra (the modality brings the other packages) or keep the package")
            continue
        if torch.build == "none":
            ctx.fail("torch", "none", f"{why} needs {name}, which needs torch; drop it or set a torch version")
            continue
        version = _companion_version(ctx, name, torch, release)
        if version is None and torch.version and name in k.optional_companions:
            ctx.notes.append(f"no {name} release pairs with torch {torch.version}: {k.optional_companions[name]}")
            modal.imports = [i for i in modal.imports if i != name]
            continue
        if version is None and torch.version:
            ctx.fail("modalities", name, f"{why} needs {name}, and no {name} release pairs with torch "
                     f"{torch.version} ({k.source_text(k.torch_sources, ['torchvision-meta', 'pypi'])}). "
                     "Pick an older torch or drop the modality")
            continue
        companions[name] = Package(name, version)
        if name not in modal.imports:
            modal.imports.append(name)
    modal.companions = tuple(companions[n] for n in sorted(companions))
    return modal


def _companion_version(ctx: Context, name: str, torch: TorchPlan, release: TorchRelease | None) -> str | None:
    if torch.version is None:
        return None
    if name == "torchcodec":
        return ctx.k.torchcodec.get(".".join(torch.version.split(".")[:2]))
    table = {"torchvision": release.torchvision if release else {},
             "torchaudio": release.torchaudio if release else {}}.get(name, {})
    return table.get(torch.version)


def resolve_packages(ctx: Context, python: str, modality_packages: list[Package]) -> tuple[tuple[Package, ...], Needs]:
    spec, k = ctx.spec, ctx.k
    needs = Needs()
    excluded = {_name(e) for e in spec.exclude}
    chosen: dict[str, Package] = {}
    target = k.targets[spec.target]
    for name in target.packages:
        chosen[_name(name)] = _pinned(ctx, name, python, "target")
    for package in modality_packages:
        chosen[_name(package.name)] = package
    for text in spec.packages:
        req = requirement(text)
        if req is None:
            ctx.fail("packages", text, 'not a valid pip requirement; write e.g. "einops==0.8.2"')
            continue
        name = _name(req.name)
        if name in RESERVED:
            ctx.fail("packages", text, f"set {name} with [image].{RESERVED[name]}, not in packages")
            continue
        if name in excluded:
            continue
        if req.url:
            chosen[name] = Package(req.name, None, tuple(sorted(req.extras)), req.url)
            continue
        version = exact_version(req)
        if version:
            chosen[name] = Package(req.name, version, tuple(sorted(req.extras)))
        elif str(req.specifier):
            chosen[name] = Package(req.name, raw=text)
            ctx.warnings.append(f"{ctx.where('packages', text)}: a range, not a pin; the image gets whatever "
                                "PyPI serves at build time (`dockyard lock` pins it)")
        else:
            pin = k.pin(name, python)
            if pin:
                chosen[name] = Package(req.name, pin["version"], tuple(sorted(req.extras)))
            else:
                chosen[name] = Package(req.name, None, tuple(sorted(req.extras)))
                ctx.warnings.append(f"{ctx.where('packages', text)}: not pinned and knowledge/pins.toml does not "
                                    f"know it; pin it ({req.name}==X) or run `dockyard lock`")
    for name, package in chosen.items():
        pin = k.pin(name, python)
        if pin and pin.get("sdist") and package.version == pin["version"]:
            needs.compile = True
            ctx.notes.append(f"{package.name} {package.version} has no wheel for Python {python}: it builds "
                             "from source in the builder stage")
    return tuple(chosen[n] for n in sorted(chosen)), needs


# -- base image ----------------------------------------------------------------------------------------

@dataclass
class Base:
    runtime: str
    builder: str
    distro: str
    notes: list[str] = field(default_factory=list)


def resolve_base(ctx: Context, torch: TorchPlan, python: str, compile_needed: bool) -> Base:
    spec, k = ctx.spec, ctx.k
    target = k.targets[spec.target]
    values = {"python": python, "toolkit": "", "ubuntu": "", "dev_image": ""}
    notes: list[str] = []
    if torch.variant in k.cuda_variants and target.family == "cuda":
        row = k.cuda_variants[torch.variant]
        native = [u for u in row.ubuntu if k.distro_python.get(f"ubuntu:{u}") == python]
        values["toolkit"] = row.toolkit
        values["ubuntu"] = native[0] if native else row.ubuntu[0]
    elif torch.variant in k.rocm_variants and target.family == "rocm":
        rocm_row = k.rocm_variants[torch.variant]
        values["ubuntu"] = rocm_row.ubuntu
        values["dev_image"] = rocm_row.dev_image
    elif target.family in ("cuda", "rocm") and not ctx.problems:  # else an earlier problem explains it
        ctx.fail("variant", torch.variant, f"knowledge has no base image row for {torch.variant}; add it to "
                 f"knowledge/{target.family}.toml")
    runtime = _fill(target.runtime_base, values)
    builder = _fill(target.compile_base, values) if compile_needed and target.family != "cpu" else runtime
    if compile_needed and not builder:
        ctx.fail("variant", torch.variant, f"knowledge/rocm.toml has no rocm/dev image for {torch.variant}, which "
                 "compiling needs; set [image].base for the final stage and add the dev image to rocm.toml")
    distro = _fill(target.distro, values)
    if spec.base:
        _check_base(ctx, spec.base, torch)
        if builder == runtime:
            builder = spec.base
        runtime = spec.base
        notes.append(f"base {spec.base} given in the spec; the builder stage uses {builder}")
    if not runtime.startswith("python:") and k.distro_python.get(distro) not in (python, None):
        notes.append(f"{distro} ships Python {k.distro_python.get(distro)}; the build installs CPython {python} "
                     f"with uv {k.uv['version']} unless the base image already has it")
    return Base(runtime, builder, distro, notes)


def _check_base(ctx: Context, image: str, torch: TorchPlan) -> None:
    k = ctx.k
    family = k.targets[ctx.spec.target].family
    found = base_accelerator(image)
    if found is None:
        ctx.notes.append(f"dockyard cannot tell what accelerator {image} carries; it knows nvidia/cuda, NGC, "
                         "rocm/*, intel/*, TPU, python and distribution images by name")
        return
    if found.kind in ("cuda", "rocm", "xpu") and found.kind != family:
        ctx.fail("base", image, f"is a {found.kind} image, but target {ctx.spec.target} installs {family} wheels")
    wheel_major = Version(torch.cuda).major if torch.cuda else None
    if found.kind == "cuda" and wheel_major is not None and found.version is not None \
            and found.version[0] != wheel_major:
        major, minor = found.version
        carried = f"{major}.{minor}" if minor is not None else f"{major}.x"
        ctx.fail("base", image, f"carries CUDA {carried}, but the {torch.variant} wheels need CUDA "
                 f"{wheel_major}.x; pick an nvidia/cuda {wheel_major}.x image")
    if family in ("cuda", "rocm") and found.kind == "cpu":
        ctx.notes.append(f"{image} has no GPU user space; fine for torch's self-contained wheels, but the NVIDIA "
                         "container toolkit's NVIDIA_* env is missing")
