"""Load dockyard's knowledge base (the *.toml tables of the knowledge folder, knowledge/folder.py) into
typed tables and answer the small questions resolve and doctor ask. The data is curated from sourced
references and, for what PyPI can tell, generated (pins.toml, releases.toml); when it does not know an
answer, a query returns None and resolve refuses with the table to update, instead of guessing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge import releases as release_rows
from dockyard.knowledge.folder import PACKAGED_DIR, Manifest, knowledge_dir, manifest, read
from dockyard.knowledge.releases import Release

KNOWLEDGE_DIR = PACKAGED_DIR  # the folder installed with dockyard (its presets live there too)


@dataclass(frozen=True)
class TorchRelease:
    minor: str
    patches: tuple[str, ...]
    python: tuple[str, ...]
    cuda: tuple[str, ...]
    rocm: tuple[str, ...]
    xpu: bool
    cpu: bool
    pypi_default: str
    torchvision: dict[str, str]
    torchaudio: dict[str, str]
    sources: tuple[str, ...]
    variants_known: bool = True

    def variants(self) -> tuple[str, ...]:
        return (*(("cpu",) if self.cpu else ()), *self.cuda, *self.rocm, *(("xpu",) if self.xpu else ()))

    def has_variant(self, variant: str) -> bool:
        return variant in self.variants()


@dataclass(frozen=True)
class CudaVariant:
    name: str
    toolkit: str
    ubuntu: tuple[str, ...]

    @property
    def version(self) -> Version:
        return Version(".".join(self.toolkit.split(".")[:2]))


@dataclass(frozen=True)
class RocmVariant:
    name: str
    version: str
    dev_image: str
    ubuntu: str


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    family: str
    runtime_base: str
    compile_base: str
    distro: str
    torch_build: str
    env: dict[str, str]
    runtime_packages: tuple[str, ...]
    packages: tuple[str, ...] = ()
    uninstall: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    jit_packages: tuple[str, ...] = ()  # the final image compiles at run time (Triton's XPU launchers)
    imports: tuple[str, ...] = ()  # modules the probe imports on this target (torch_xla)


@dataclass(frozen=True)
class Archive:
    """A third-party apt archive a spec may add (targets.toml [archive.NAME])."""

    name: str
    description: str
    distros: tuple[str, ...]
    key_url: str
    line: str  # the sources.list line; {keyring} is where the key is stored
    source: str

    @property
    def keyring(self) -> str:
        return f"/etc/apt/keyrings/{self.name}.asc"

    def source_line(self) -> str:
        return self.line.replace("{keyring}", self.keyring)


@dataclass(frozen=True)
class Refusal:
    when: dict[str, str]
    reason: str
    suggest: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class AddonProbe:
    """A check that exercises an add-on the way transformers' tests use it (run by the verify probe)."""

    name: str
    code: str  # Python run in the image; it fails by raising
    gpu: bool = False  # only with `dockyard verify --gpu`
    compiled: bool = False  # only where the add-on's native code was compiled into the image


@dataclass(frozen=True)
class Addon:
    name: str
    description: str
    targets: tuple[str, ...]
    pip: str = ""
    import_name: str = ""
    compile_on: tuple[str, ...] = ()
    no_build_isolation: bool = False
    build_packages: tuple[str, ...] = ()
    build_python: tuple[str, ...] = ()
    runtime_packages: tuple[str, ...] = ()
    build_env: dict[str, str] = field(default_factory=dict)
    pip_args: tuple[str, ...] = ()
    torch: str = ""
    releases: tuple[tuple[str, str], ...] = ()  # (version, torch specifier), newest first
    source_url: str = ""
    default_ref: str = ""
    keep_torch_headers: bool = False
    min_cuda_arch: str = ""
    script: str = ""
    script_env: dict[str, str] = field(default_factory=dict)
    runtime_paths: tuple[str, ...] = ()
    path: str = ""
    probe_tool: str = ""
    probes: tuple[AddonProbe, ...] = ()
    refuse: tuple[Refusal, ...] = ()
    sources: tuple[str, ...] = ()
    torch_index: tuple[str, ...] = ()  # targets where its build comes from torch's wheel index (torchao +xpu)
    own_step: bool = False  # a source build that needs torch and build_env even where nothing compiles


@dataclass(frozen=True)
class Modality:
    name: str
    description: str
    packages: tuple[str, ...]
    system: tuple[str, ...]
    imports: tuple[str, ...]
    torch_companions: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trim:
    """Files of a Debian package that dpkg leaves out of slim images (modalities.toml [[trim]])."""

    package: str
    paths: tuple[str, ...]
    pulled_by: tuple[str, ...]
    distros: tuple[str, ...]
    why: str
    source: str


@dataclass(frozen=True)
class Configure:
    """A command run right after apt installs a package (modalities.toml [[configure]])."""

    package: str
    run: str
    why: str
    source: str


@dataclass(frozen=True)
class TransformersRange:
    """What one transformers release needs (releases.toml: Requires-Python, its `torch` extra)."""

    versions: SpecifierSet
    python: SpecifierSet
    torch: SpecifierSet


@dataclass(frozen=True)
class Knowledge:
    """All tables, loaded once. Build with `Knowledge.load()` (cached)."""

    torch_releases: tuple[TorchRelease, ...]
    torch_index: dict[str, str]
    torch_nightly: dict[str, Any]
    torch_sources: dict[str, str]
    cuda_variants: dict[str, CudaVariant]
    cuda_archs: tuple[tuple[str, SpecifierSet, tuple[str, ...]], ...]
    cuda_default_archs: dict[str, tuple[str, ...]]
    cuda_gpus: dict[str, dict[str, Any]]
    cuda_drivers: tuple[tuple[str, str], ...]  # (CUDA minor, minimum driver of its GA release), newest first
    cuda_minor_compat: dict[int, str]  # CUDA major -> minimum driver through minor-version compatibility
    cuda_sources: dict[str, str]
    rocm_variants: dict[str, RocmVariant]
    rocm: dict[str, Any]
    targets: dict[str, Target]
    torch_xla: tuple[dict[str, Any], ...]
    addons: dict[str, Addon]
    addon_sources: dict[str, str]
    modalities: dict[str, Modality]
    torchcodec: dict[str, str]
    optional_companions: dict[str, str]
    companion_index: dict[str, dict[str, str]]  # companion -> target family -> the wheel variant to take it from
    transformers_versions: tuple[str, ...]  # every final release PyPI has not yanked, oldest first
    transformers_meta: dict[str, Any]
    pins: dict[str, dict[str, dict[str, Any]]]
    uv: dict[str, str]
    python_images: tuple[str, ...]
    distro_python: dict[str, str]
    python_sources: dict[str, str] = field(default_factory=dict)
    trims: tuple[Trim, ...] = ()
    configure: tuple[Configure, ...] = ()
    archives: dict[str, Archive] = field(default_factory=dict)
    installer_env: tuple[tuple[str, str], ...] = ()  # builder-stage ENV of pip (python.toml [installer.env])
    package_data: dict[str, str] = field(default_factory=dict)  # package -> command that fetches its data
    releases: dict[str, dict[str, Release]] = field(default_factory=dict)  # releases.toml
    manifest: Manifest | None = None

    @classmethod
    def load(cls) -> Knowledge:
        """The tables of the knowledge folder in use, loaded once per folder."""
        return _knowledge_at(knowledge_dir())

    @classmethod
    def from_folder(cls, folder: Path) -> Knowledge:
        torch = read("torch.toml", folder)
        cuda = read("cuda.toml", folder)
        rocm = read("rocm.toml", folder)
        targets = read("targets.toml", folder)
        addons = read("addons.toml", folder)
        modalities = read("modalities.toml", folder)
        transformers = read("transformers.toml", folder)
        pins = read("pins.toml", folder)
        python = read("python.toml", folder)
        known = release_rows.parse(read("releases.toml", folder))
        transformers_releases = known.get("transformers", {})
        return cls(
            torch_releases=tuple(_torch_release(row) for row in torch["release"]),
            torch_index=torch["index"],
            torch_nightly=torch["nightly"],
            torch_sources=torch["sources"],
            cuda_variants={row["name"]: CudaVariant(row["name"], row["toolkit"], tuple(row["ubuntu"]))
                           for row in cuda["variant"]},
            cuda_archs=tuple((row["variant"], SpecifierSet(row["torch"]), tuple(row["archs"]))
                             for row in cuda["archs"]),
            cuda_default_archs={k: tuple(v) for k, v in cuda["default_archs"].items()},
            cuda_gpus={row["cc"]: row for row in cuda["gpu"]},
            cuda_drivers=tuple((cuda_minor, driver) for cuda_minor, driver in cuda["drivers"]["minimum"]),
            cuda_minor_compat={int(k): v for k, v in cuda["minor_compat"].items() if k != "sources"},
            cuda_sources=cuda["sources"],
            rocm_variants={row["name"]: RocmVariant(row["name"], row["version"], row["dev_image"], row["ubuntu"])
                           for row in rocm["variant"]},
            rocm=rocm,
            targets={name: _target(name, row) for name, row in targets["target"].items()},
            torch_xla=tuple(targets["torch_xla"]),
            addons={name: _addon(name, row) for name, row in addons["addon"].items()},
            addon_sources=addons["sources"],
            modalities={name: _modality(name, row) for name, row in modalities["modality"].items()},
            torchcodec=modalities["torchcodec"],
            optional_companions=modalities["optional_companions"],
            companion_index={name: {k: v for k, v in row.items() if k != "source"}
                             for name, row in modalities.get("companion_index", {}).items()},
            transformers_versions=_live(transformers_releases),
            transformers_meta=transformers,
            pins=pins["package"],
            uv=pins["uv"],
            python_images=tuple(python["images"]["versions"]),
            distro_python={k: v for k, v in python["distro"].items() if k != "sources"},
            python_sources=python["sources"],
            trims=tuple(Trim(r["package"], tuple(r["paths"]), tuple(r["pulled_by"]), tuple(r["distros"]),
                             r["why"], r["source"]) for r in modalities.get("trim", [])),
            configure=tuple(Configure(r["package"], r["run"], r["why"], r["source"])
                            for r in modalities.get("configure", [])),
            archives={name: Archive(name, r["description"], tuple(r["distros"]), r["key_url"], r["line"], r["source"])
                      for name, r in targets.get("archive", {}).items()},
            installer_env=tuple(sorted((name, str(row["value"]))
                                       for name, row in python.get("installer", {}).get("env", {}).items())),
            package_data={row["package"]: row["run"] for row in python.get("package_data", [])},
            releases=known,
            manifest=manifest(folder),
        )

    def with_releases(self, rows: dict[str, dict[str, Release]]) -> Knowledge:
        """This knowledge with other release rows (a refresh's, before they are written)."""
        return replace(self, releases=rows, transformers_versions=_live(rows.get("transformers", {})))

    # -- torch -------------------------------------------------------------------------------------
    def torch_versions(self) -> list[tuple[Version, TorchRelease]]:
        """Every known torch patch release, newest first."""
        rows = [(Version(p), r) for r in self.torch_releases for p in r.patches]
        return sorted(rows, key=lambda item: item[0], reverse=True)

    def torch_release(self, version: Version) -> TorchRelease | None:
        for release in self.torch_releases:
            if f"{version.major}.{version.minor}" == release.minor:
                return release
        return None

    def torch_index_url(self, variant: str, channel: str = "release") -> str:
        return self.torch_index[channel].format(variant=variant)

    def source_text(self, table: dict[str, str], keys: tuple[str, ...] | list[str]) -> str:
        return "; ".join(table.get(k, k) for k in keys)

    # -- cuda ----------------------------------------------------------------------------------------
    def wheel_archs(self, variant: str, torch_version: Version) -> tuple[str, ...] | None:
        for name, spec, archs in self.cuda_archs:
            if name == variant and spec.contains(torch_version, prereleases=True):
                return archs
        return None

    def default_cuda_archs(self, toolkit: Version) -> tuple[str, ...]:
        if toolkit.major >= 13:
            return self.cuda_default_archs["cuda13"]
        if toolkit >= Version("12.8"):
            return self.cuda_default_archs["cuda12_8"]
        return self.cuda_default_archs["cuda12"]

    def trims_for(self, system_packages: tuple[str, ...] | list[str], distro: str) -> tuple[Trim, ...]:
        """The [[trim]] rows that apply: one of the packages that pulls the files in is installed."""
        return tuple(t for t in self.trims if distro in t.distros and set(t.pulled_by) & set(system_packages))

    # -- python packages ------------------------------------------------------------------------------
    def pin(self, package: str, python: str) -> dict[str, Any] | None:
        """The newest release of `package` that installs on `python` (pins.toml), or None if unknown."""
        rows = self.pins.get(_canonical(package))
        if rows is None:
            return None
        return rows.get(python)

    def transformers_release(self, version: Version | str) -> Release | None:
        return self.releases.get("transformers", {}).get(str(version))

    def transformers_range(self, version: Version) -> TransformersRange | None:
        """The Python and torch one transformers release needs (None: a release the knowledge lacks)."""
        row = self.transformers_release(version)
        if row is None:
            return None
        return TransformersRange(SpecifierSet(f"=={version}"), SpecifierSet(row.python), SpecifierSet(row.torch))

    def transformers_extras(self, version: Version | None) -> tuple[str, ...]:
        """The extras of a release (Provides-Extra); None (a git ref): the newest release's."""
        text = str(version) if version is not None else (self.transformers_versions or ("",))[-1]
        row = self.transformers_release(text)
        return row.extras if row else ()

    def every_transformers_extra(self) -> set[str]:
        return {e for row in self.releases.get("transformers", {}).values() for e in row.extras}

    def yanked(self, package: str) -> dict[str, Release]:
        """The releases of a tracked package that PyPI yanked (releases.toml)."""
        return {v: r for v, r in self.releases.get(package, {}).items() if r.yanked is not None}


def _live(rows: dict[str, Release]) -> tuple[str, ...]:
    """The releases PyPI has not yanked, oldest first."""
    return tuple(sorted((v for v, r in rows.items() if r.yanked is None), key=Version))


@functools.cache
def _knowledge_at(folder: Path) -> Knowledge:
    return Knowledge.from_folder(folder)


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def _torch_release(row: dict[str, Any]) -> TorchRelease:
    return TorchRelease(
        minor=row["minor"], patches=tuple(row["patches"]), python=tuple(row["python"]),
        cuda=tuple(row["cuda"]), rocm=tuple(row["rocm"]), xpu=row["xpu"], cpu=row["cpu"],
        pypi_default=row["pypi_default"], torchvision=dict(row["torchvision"]),
        torchaudio=dict(row["torchaudio"]), sources=tuple(row["sources"]),
        variants_known=row.get("variants_known", True),
    )


def _target(name: str, row: dict[str, Any]) -> Target:
    return Target(
        name=name, description=row["description"], family=row["family"], runtime_base=row["runtime_base"],
        compile_base=row["compile_base"], distro=row["distro"], torch_build=row["torch_build"],
        env=dict(row.get("env", {})), runtime_packages=tuple(row.get("runtime_packages", [])),
        packages=tuple(row.get("packages", [])), uninstall=tuple(row.get("uninstall", [])),
        sources=tuple(row.get("sources", [])), jit_packages=tuple(row.get("jit_packages", [])),
        imports=tuple(row.get("imports", [])),
    )


def _addon(name: str, row: dict[str, Any]) -> Addon:
    refusals = tuple(Refusal(dict(r["when"]), r["reason"], r.get("suggest", ""), tuple(r.get("sources", [])))
                     for r in row.get("refuse", []))
    return Addon(
        name=name, description=row["description"], targets=tuple(row["targets"]), pip=row.get("pip", ""),
        import_name=row.get("import", ""), compile_on=tuple(row.get("compile_on", [])),
        no_build_isolation=row.get("no_build_isolation", False),
        build_packages=tuple(row.get("build_packages", [])), build_python=tuple(row.get("build_python", [])),
        runtime_packages=tuple(row.get("runtime_packages", [])), build_env=dict(row.get("build_env", {})),
        pip_args=tuple(row.get("pip_args", [])), torch=row.get("torch", ""),
        releases=tuple((r["version"], r["torch"]) for r in row.get("release", [])),
        source_url=row.get("source_url", ""), default_ref=row.get("default_ref", ""),
        keep_torch_headers=row.get("keep_torch_headers", False), min_cuda_arch=row.get("min_cuda_arch", ""),
        script=row.get("script", ""), script_env=dict(row.get("script_env", {})),
        runtime_paths=tuple(row.get("runtime_paths", [])), path=row.get("path", ""),
        probe_tool=row.get("probe_tool", ""), refuse=refusals,
        probes=tuple(AddonProbe(p["name"], p["code"], p.get("gpu", False), p.get("compiled", False))
                     for p in row.get("probe", [])), sources=tuple(row.get("sources", [])),
        torch_index=tuple(row.get("torch_index", [])), own_step=row.get("own_step", False),
    )


def _modality(name: str, row: dict[str, Any]) -> Modality:
    return Modality(
        name=name, description=row["description"], packages=tuple(row["packages"]), system=tuple(row["system"]),
        imports=tuple(row["imports"]), torch_companions=tuple(row.get("torch_companions", [])),
        tools=tuple(row.get("tools", [])),
        libraries=tuple(row.get("libraries", [])),
    )


def imports_table() -> dict[str, Any]:
    """imports.toml of the knowledge folder in use: what a hand-written Dockerfile's items mean (readback/)."""
    return _imports_at(knowledge_dir())


@functools.cache
def _imports_at(folder: Path) -> dict[str, Any]:
    return read("imports.toml", folder)


def preset_dir() -> Path:
    return KNOWLEDGE_DIR / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.toml"))
