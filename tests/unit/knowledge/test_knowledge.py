"""The knowledge base is consistent: every row has sources, the tables agree with each other, every
preset resolves, pins cover every Python dockyard may choose, and the JSON schema is valid."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.knowledge.loader import KNOWLEDGE_DIR, Knowledge, preset_dir, preset_names
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve, variant_family
from dockyard.spec.fields import MODALITIES, PRESET_KEYS, TARGETS, json_schema
from dockyard.spec.model import load

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESETS = preset_names()
KNOWLEDGE_FILES = sorted(p.name for p in KNOWLEDGE_DIR.glob("*.toml"))
GENERATED = {"pins.toml"}  # written by scripts/refresh_knowledge.py from PyPI; its header says so

# Wheel variants torch.toml names that have no toolkit row on purpose.
KNOWN_VARIANT_GAPS = {
    "cu134": "only in the nightly channel (torch.toml [nightly]); no release ships it yet, so no toolkit row",
}


@pytest.fixture(scope="module")
def k() -> Knowledge:
    return Knowledge.load()


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((KNOWLEDGE_DIR / name).read_text(encoding="utf-8"))
    return data


# -- sources ------------------------------------------------------------------------------------------

def rows(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(path, row, inherits) for every row: arrays of tables anywhere, and the named rows of [target.X],
    [addon.X], [modality.X]. `inherits` is True for rows nested in a row that has sources."""

    def walk(value: Any, path: str, parent_sourced: bool) -> Iterator[tuple[str, dict[str, Any], bool]]:
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, row in enumerate(value):
                yield f"{path}[{index}]", row, parent_sourced
                yield from walk_children(row, f"{path}[{index}]", parent_sourced or has_sources(row))
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{path}.{key}" if path else key, parent_sourced)

    def walk_children(row: dict[str, Any], path: str, sourced: bool) -> Iterator[tuple[str, dict[str, Any], bool]]:
        for key, item in row.items():
            yield from walk(item, f"{path}.{key}", sourced)

    for top in ("target", "addon", "modality"):
        for name, row in data.get(top, {}).items():
            yield f"{top}.{name}", row, False
            yield from walk_children(row, f"{top}.{name}", has_sources(row))
    for key, value in data.items():
        if key not in ("target", "addon", "modality"):
            yield from walk(value, key, False)


def has_sources(row: dict[str, Any]) -> bool:
    return bool(row.get("sources")) or bool(row.get("source"))


@pytest.mark.parametrize("name", [n for n in KNOWLEDGE_FILES if n not in GENERATED])
def test_every_row_has_sources(name: str) -> None:
    """A row carries `sources` (keys of the file's [sources] table) or `source` (text); a row nested in a
    sourced row (addon.torchao.release) inherits them; a file-level `source` covers the whole file."""
    data = raw(name)
    file_level = isinstance(data.get("source"), str) and bool(data["source"].strip())
    missing = [path for path, row, inherits in rows(data) if not (has_sources(row) or inherits or file_level)]
    assert missing == [], f"{name}: rows without sources"


@pytest.mark.parametrize("name", KNOWLEDGE_FILES)
def test_source_keys_are_defined(name: str) -> None:
    data = raw(name)
    table = data.get("sources", {})
    assert all(isinstance(v, str) and v.strip() for v in table.values()), f"{name}: an empty [sources] entry"
    undefined = []
    for path, row, _ in rows(data):
        keys = row.get("sources", [])
        if isinstance(keys, list):
            undefined += [f"{path}: {key}" for key in keys if key not in table]
    assert undefined == [], f"{name}: source keys missing from its [sources] table"


def test_the_generated_pins_say_where_they_come_from() -> None:
    head = (KNOWLEDGE_DIR / "pins.toml").read_text(encoding="utf-8").splitlines()[:3]
    assert any("scripts/refresh_knowledge.py" in line and "PyPI" in line for line in head)


# -- torch, CUDA, ROCm ----------------------------------------------------------------------------------

def test_every_cuda_and_rocm_variant_has_a_row_or_is_a_known_gap(k: Knowledge) -> None:
    named = {v for r in k.torch_releases for v in (*r.cuda, *r.rocm)}
    named |= set(k.torch_nightly["cuda"]) | set(k.torch_nightly["rocm"])
    rows_known = set(k.cuda_variants) | set(k.rocm_variants)
    assert named - rows_known == set(KNOWN_VARIANT_GAPS)
    assert not set(KNOWN_VARIANT_GAPS) & rows_known, "a known gap has a row now: drop it from KNOWN_VARIANT_GAPS"


def test_every_released_cuda_wheel_has_its_arch_list(k: Knowledge) -> None:
    missing = [f"torch {patch} {variant}" for r in k.torch_releases for patch in r.patches for variant in r.cuda
               if k.wheel_archs(variant, Version(patch)) is None]
    assert missing == []


def test_wheel_and_default_archs_are_known_gpus(k: Knowledge) -> None:
    archs = {a.removesuffix("+PTX") for _, _, listed in k.cuda_archs for a in listed}
    archs |= {a for listed in k.cuda_default_archs.values() for a in listed}
    unknown = archs - set(k.cuda_gpus) - {"3.7"}  # Kepler 3.7 (cu118 wheels) predates the GPU table
    assert unknown == set()


def test_rocm_default_archs_are_in_the_wheels(k: Knowledge) -> None:
    archs = k.rocm["archs"]
    assert set(archs["default"]) <= set(archs["wheels"])
    assert set(archs["default_rocm7"]) <= set(archs["wheels"]) | set(archs["wheels_rocm7"])


@pytest.mark.parametrize("minor", [r.minor for r in Knowledge.load().torch_releases])
def test_torch_release_row_is_consistent(minor: str, k: Knowledge) -> None:
    release = next(r for r in k.torch_releases if r.minor == minor)
    assert release.patches and all(p.startswith(f"{minor}.") for p in release.patches)
    assert list(release.patches) == sorted(release.patches, key=Version)
    assert list(release.python) == sorted(release.python, key=Version)
    assert release.pypi_default in release.cuda
    assert set(release.torchvision) <= set(release.patches)
    assert set(release.torchaudio) <= set(release.patches)
    assert all(variant_family(v) == "cuda" for v in release.cuda)
    assert all(variant_family(v) == "rocm" for v in release.rocm)
    assert set(release.sources) <= set(k.torch_sources)


def test_torch_releases_are_in_order(k: Knowledge) -> None:
    minors = [Version(r.minor) for r in k.torch_releases]
    assert minors == sorted(minors)
    assert len(set(minors)) == len(minors)


def test_cuda_variant_rows_name_their_toolkit(k: Knowledge) -> None:
    for name, row in k.cuda_variants.items():
        assert name == "cu" + "".join(row.toolkit.split(".")[:2]), name
        assert all(f"ubuntu:{u}" in k.distro_python for u in row.ubuntu), name


def test_rocm_variant_rows_name_their_version(k: Knowledge) -> None:
    for name, row in k.rocm_variants.items():
        assert name == f"rocm{row.version}"
        assert f"ubuntu:{row.ubuntu}" in k.distro_python
        assert not row.dev_image or row.dev_image.startswith("rocm/dev-")


def test_torch_xla_pairs_with_known_torch(k: Knowledge) -> None:
    minors = {r.minor: r for r in k.torch_releases}
    for row in k.torch_xla:
        assert row["torch"] in minors
        assert set(row["python"]) <= set(minors[row["torch"]].python)


def test_torchcodec_pairs_with_known_torch(k: Knowledge) -> None:
    assert set(k.torchcodec) <= {r.minor for r in k.torch_releases}


# -- targets, add-ons, modalities, transformers -----------------------------------------------------------

def test_targets_and_modalities_match_the_spec(k: Knowledge) -> None:
    assert set(k.targets) == set(TARGETS)
    assert set(k.modalities) == set(MODALITIES)
    assert all(t.family in ("cpu", "cuda", "rocm", "xpu") for t in k.targets.values())


def test_addons_are_consistent(k: Knowledge) -> None:
    for addon in k.addons.values():
        assert set(addon.targets) <= set(TARGETS), addon.name
        assert set(addon.compile_on) <= set(addon.targets), addon.name
        assert set(addon.sources) <= set(k.addon_sources), addon.name
        for refusal in addon.refuse:
            assert refusal.reason and set(refusal.sources) <= set(k.addon_sources), addon.name
            assert set(refusal.when) <= {"target", "cuda"}, addon.name
        assert bool(addon.pip) != bool(addon.script), f"{addon.name}: installs from pip or a script, not both"
        if addon.releases:
            versions = [Version(v) for v, _ in addon.releases]
            assert versions == sorted(versions, reverse=True), f"{addon.name}: releases newest first"
        if addon.torch:
            SpecifierSet(addon.torch)


def test_every_known_transformers_release_says_what_it_needs(k: Knowledge) -> None:
    """releases.toml gives each release its Python floor, torch extra and extras (PyPI metadata)."""
    for text in k.transformers_versions:
        row = k.transformers_range(Version(text))
        assert row is not None and str(row.python).startswith(">="), text
        assert k.transformers_extras(Version(text)), text
    assert list(k.transformers_versions) == sorted(k.transformers_versions, key=Version)
    assert k.transformers_range(Version("5.25.0")) == k.transformers_range(Version("5.25.0"))
    assert str(k.transformers_range(Version("5.25.0")).torch) == ">=2.6"  # type: ignore[union-attr]


def test_distro_python_covers_every_distro_a_target_uses(k: Knowledge) -> None:
    distros = {t.distro for t in k.targets.values() if "{" not in t.distro}
    distros |= {f"ubuntu:{u}" for row in k.cuda_variants.values() for u in row.ubuntu}
    distros |= {f"ubuntu:{row.ubuntu}" for row in k.rocm_variants.values()}
    assert distros <= set(k.distro_python)


# -- pins ----------------------------------------------------------------------------------------------

def python_packages(k: Knowledge) -> dict[str, str]:
    """Every package dockyard pins from pins.toml, and why."""
    wanted = {p: f"modality {m.name}" for m in k.modalities.values() for p in m.packages}
    wanted |= {p: f"target {t.name}" for t in k.targets.values() for p in t.packages}
    for addon in k.addons.values():
        if addon.pip and not addon.source_url:
            wanted[addon.pip] = f"add-on {addon.name}"
        wanted |= {p: f"add-on {addon.name} (build)" for p in addon.build_python}
    return wanted


def test_every_pinned_package_has_a_pin_for_each_python_image(k: Knowledge) -> None:
    missing = [f"{name} ({why}): Python {python}" for name, why in sorted(python_packages(k).items())
               for python in k.python_images if k.pin(name, python) is None]
    assert missing == []


def test_every_python_image_is_a_python_some_torch_supports(k: Knowledge) -> None:
    supported = {p for r in k.torch_releases for p in r.python}
    assert set(k.python_images) <= supported


# -- presets -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_resolves_and_renders(preset: str) -> None:
    plan = resolve(load(preset))
    assert plan.name == preset
    assert render(plan).dockerfile.startswith(f"# {preset}: ")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_says_what_it_reproduces_and_changes(preset: str) -> None:
    document = tomllib.loads((preset_dir() / f"{preset}.toml").read_text(encoding="utf-8"))
    meta = document["preset"]
    assert set(meta) <= set(PRESET_KEYS)
    assert all(meta.get(key, "").strip() for key in ("description", "reproduces", "changes"))
    assert document["image"]["name"] == preset


def test_there_are_twenty_one_presets() -> None:
    assert len(PRESETS) == 21
    assert "cpu-inference" in PRESETS and "cpu-serve" in PRESETS


# -- JSON schema ---------------------------------------------------------------------------------------

def test_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates_against_the_schema(preset: str) -> None:
    document = tomllib.loads((preset_dir() / f"{preset}.toml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json_schema()).validate(document)


@pytest.mark.parametrize(
    "document",
    [
        {"image": {"target": "cuda12"}},
        {"image": {"target": "cpu", "torhc": "2.6"}},
        {"image": {"target": "cpu", "modalities": ["visoin"]}},
        {"image": {"target": "cpu", "addons": "deepspeed"}},
        {"image": {"target": "cpu", "slim": "yes"}},
        {"image": {"target": "cpu", "env": {"1BAD": "x"}}},
        {"image": {"python": "3.12"}},
        {"imgae": {"target": "cpu"}},
    ],
    ids=["target", "unknown-key", "modality", "string-for-list", "bool", "env-name", "no-target", "top-level"],
)
def test_the_schema_rejects_what_the_loader_rejects(document: dict[str, Any]) -> None:
    assert not jsonschema.Draft202012Validator(json_schema()).is_valid(document)


def test_every_trim_row_says_why_and_where_from() -> None:
    from dockyard.knowledge.loader import Knowledge

    trims = Knowledge.load().trims
    assert {t.package for t in trims} >= {"libllvm15", "libgl1-mesa-dri", "libz3-4"}
    for trim in trims:
        assert trim.why and trim.source and trim.pulled_by and trim.distros, trim.package
        assert all(p.startswith("/usr/lib/") and "'" not in p and " " not in p for p in trim.paths), trim.package


# -- scripts/refresh_knowledge.py ------------------------------------------------------------------------

def _refresh_script() -> Any:
    import importlib.util

    path = KNOWLEDGE_DIR.parents[2] / "scripts" / "refresh_knowledge.py"
    spec = importlib.util.spec_from_file_location("refresh_knowledge", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(name: str, version: str, tag: str = "cp312-cp312-manylinux2014_x86_64") -> dict[str, Any]:
    return {"filename": f"{name}-{version}-{tag}.whl", "packagetype": "bdist_wheel", "requires_python": None}


def test_refresh_pins_pre_releases_only_for_a_package_that_never_made_a_final_release() -> None:
    """essentia publishes only 2.1b6.devN builds: it is pinned to the newest that installs; a package with
    final releases never gets a pre-release pin."""
    newest = _refresh_script().newest_per_python
    only_pre = {"releases": {"2.1b6.dev1389": [_wheel("essentia", "2.1b6.dev1389")],
                             "2.1b6.dev1438": [_wheel("essentia", "2.1b6.dev1438",
                                                      "cp314-cp314-manylinux2014_x86_64")]}}
    pins = newest(only_pre)
    assert pins["3.12"] == {"version": "2.1b6.dev1389", "wheel": True}
    assert pins["3.14"]["version"] == "2.1b6.dev1438"
    mixed = {"releases": {"1.0": [_wheel("x", "1.0", "py3-none-any")],
                          "2.0rc1": [_wheel("x", "2.0rc1", "py3-none-any")]}}
    assert {row["version"] for row in newest(mixed).values()} == {"1.0"}


def test_every_package_of_transformers_originals_can_be_pinned(k: Knowledge) -> None:
    """Issue 20: a preset drops a package of its original only for a fact about it, never for want of a pin."""
    for name in ("fire", "rouge-score", "sacrebleu", "requests-mock", "schedulefree", "hf-transfer", "pytorch-msssim",
                 "galore-torch", "liger-kernel", "mergekit", "fouroversix", "onnxruntime-gpu", "kenlm", "essentia",
                 "pretty-midi", "resampy", "invisible-watermark", "torchdata", "nose", "dataset", "itsdangerous"):
        assert k.pin(name, "3.12") is not None, name
