"""Modalities (their system and Python packages, torch companions paired with torch) and the spec's own
packages, each pinned from knowledge/pins.toml for the chosen Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from packaging.version import Version

from dockyard.knowledge.loader import TorchRelease
from dockyard.resolve.context import Context
from dockyard.resolve.plan import Package, TorchPlan
from dockyard.spec.requests import exact_version, requirement

RESERVED = {"torch": "torch", "transformers": "transformers", "torchvision": "modalities (vision)",
            "torchaudio": "modalities (audio)", "torch-xla": "target = \"tpu\""}


def _name(text: str) -> str:
    return str(canonicalize_name(text))


@dataclass
class Needs:
    """What add-ons and packages ask of the build: a compile stage, packages, probe imports and tools."""

    compile: bool = False
    build_packages: set[str] = field(default_factory=set)
    runtime_packages: set[str] = field(default_factory=set)
    keep_torch_headers: bool = False
    imports: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    paths: tuple[str, ...] = ()


@dataclass
class Modal:
    packages: list[Package] = field(default_factory=list)
    companions: tuple[Package, ...] = ()
    system: set[str] = field(default_factory=set)
    imports: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    libraries: tuple[str, ...] = ()


def pinned(ctx: Context, name: str, python: str, key: str) -> Package:
    pin = ctx.k.pin(name, python)
    if pin is None:
        ctx.fail(key, name, f"knowledge/pins.toml has no release of {name} for Python {python}; add it to "
                 "scripts/refresh_knowledge.py and rerun it, or pin it in packages", by_python=True)
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
        modal.packages.extend(pinned(ctx, p, python, "modalities") for p in modality.packages
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
                         "of it. Drop the extra (the modality brings the other packages) or keep the package",
                         fixed=True)
            continue
        if torch.build == "none":
            ctx.fail("torch", "none", f"{why} needs {name}, which needs torch; drop it or set a torch version",
                     fixed=True)
            continue
        version = _companion_version(ctx, name, torch, release)
        if version is None and torch.version and name in k.optional_companions:
            ctx.notes.append(f"no {name} release pairs with torch {torch.version} ({torch.variant}): "
                             f"{k.optional_companions[name]}")
            modal.imports = [i for i in modal.imports if i != name]
            continue
        if version is None and torch.version:
            ctx.fail("modalities", name, f"{why} needs {name}, and no {name} release pairs with torch "
                     f"{torch.version} ({k.source_text(k.torch_sources, ['torchvision-meta', 'pypi'])}). "
                     "Pick an older torch or drop the modality")
            continue
        companions[name] = Package(name, version, index_url=_companion_index(ctx, name, torch))
        if name not in modal.imports:
            modal.imports.append(name)
    modal.companions = tuple(companions[n] for n in sorted(companions))
    return modal


def _companion_version(ctx: Context, name: str, torch: TorchPlan, release: TorchRelease | None) -> str | None:
    if torch.version is None:
        return None
    if name == "torchcodec":
        return ctx.k.torchcodec.get(".".join(torch.version.split(".")[:2]))
    tables: dict[str, Callable[[TorchRelease], dict[str, str]]] = {
        "torchvision": lambda r: r.torchvision, "torchaudio": lambda r: r.torchaudio}
    if release is None or name not in tables:
        return None
    version = tables[name](release).get(torch.version)
    if version is None:
        return None
    # A companion paired with a later torch than it was released with (torchaudio 2.11.0 beside torch 2.14)
    # exists only for the wheel variants of the release it was built with: the oldest that pairs it.
    built_with = min((r for r in ctx.k.torch_releases if version in tables[name](r).values()),
                     key=lambda r: Version(r.minor))
    if built_with is not release and not built_with.has_variant(torch.variant):
        return None
    return version


def _companion_index(ctx: Context, name: str, torch: TorchPlan) -> str:
    """The wheel index of a companion that does not come from torch's (knowledge/modalities.toml
    [companion_index]); empty when it comes from torch's index."""
    family = ctx.k.targets[ctx.spec.target].family
    variant = ctx.k.companion_index.get(name, {}).get(family)
    if not variant or variant == torch.variant:
        return ""
    return ctx.k.torch_index_url(variant, "nightly" if torch.channel == "nightly" else "release")


def resolve_packages(ctx: Context, python: str, modality_packages: list[Package]) -> tuple[tuple[Package, ...], Needs]:
    spec, k = ctx.spec, ctx.k
    needs = Needs()
    excluded = {_name(e) for e in spec.exclude}
    chosen: dict[str, Package] = {}
    target = k.targets[spec.target]
    for name in target.packages:
        chosen[_name(name)] = pinned(ctx, name, python, "target")
    for package in modality_packages:
        chosen[_name(package.name)] = package
    for text in spec.packages:
        req = requirement(text)
        if req is None:
            ctx.fail("packages", text, 'not a valid pip requirement; write e.g. "einops==0.8.2"', fixed=True)
            continue
        name = _name(req.name)
        if name in RESERVED:
            ctx.fail("packages", text, f"set {name} with [image].{RESERVED[name]}, not in packages", fixed=True)
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


