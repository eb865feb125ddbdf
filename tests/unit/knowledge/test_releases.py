"""The knowledge base against the index, from recorded answers: the curated tables agree with the release
rows PyPI gives; a new release makes the refresh propose rows; a yanked one is refused; doctor says what
is newer and how old the knowledge is.

tests/unit/knowledge/index/*.json are PyPI's JSON documents of the tracked projects, recorded 2026-12-07
(https://pypi.org/pypi/NAME/json, trimmed to the Linux x86_64 and pure wheels and to the fields the
refresh reads: filename, upload_time, requires_python, packagetype, yanked, yanked_reason).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dockyard.knowledge import freshness, releases
from dockyard.knowledge.folder import PACKAGED_DIR, manifest, read
from dockyard.knowledge.loader import Knowledge
from dockyard.knowledge.releases import Release, Tracked
from dockyard.knowledge.serving import serve_knowledge
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import ImageSpec

INDEX = Path(__file__).parent / "index"
TORCH_216 = {"Requires-Python": [">=3.11"], "Requires-Dist": [
    "filelock", 'cuda-toolkit[cublas,cudart]==13.4.1; platform_system == "Linux"', 'triton~=3.10.0']}


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INDEX / f"{name}.json").read_text())
    return data


def tracked() -> dict[str, Tracked]:
    return {name: Tracked(name, str(row["floor"]), tuple(row["fields"])) for name, row in manifest().tracked.items()}


def no_metadata(version: str) -> dict[str, list[str]] | None:
    raise AssertionError(f"the refresh read METADATA of {version}, which releases.toml already has")


def rows_from(documents: dict[str, dict[str, Any]], reader: Any = no_metadata) -> dict[str, dict[str, Release]]:
    known = Knowledge.load().releases
    return {name: releases.from_index(spec, documents[name], reader, known.get(name))
            for name, spec in tracked().items()}


def gaps() -> list[dict[str, Any]]:
    return list(read("knowledge.toml").get("gap", []))


def wheel(version: str, python: str, day: str) -> dict[str, Any]:
    tag = "cp" + python.replace(".", "")
    return {"filename": f"torch-{version}-{tag}-{tag}-manylinux_2_28_x86_64.whl", "packagetype": "bdist_wheel",
            "requires_python": ">=3.11", "upload_time": f"{day}T15:00:00", "yanked": False}


# -- the committed knowledge agrees with the recorded index -------------------------------------------

def test_the_recorded_index_gives_the_committed_rows_without_reading_metadata() -> None:
    """Every release of the recorded answers is in releases.toml with the same upload day and yank: a
    refresh against them reads no METADATA and changes nothing."""
    rows = rows_from({name: recorded(name) for name in tracked()})
    committed = Knowledge.load().releases
    for name in tracked():
        assert rows[name] == {v: r for v, r in committed[name].items() if v in rows[name]}, name
        assert set(rows[name]) == set(committed[name]), name


def test_the_curated_tables_have_no_unacknowledged_finding() -> None:
    """torch.toml, modalities.toml, addons.toml and serve.toml agree with releases.toml; what no source
    gives is listed in knowledge.toml [[gap]] (each with where the facts live)."""
    k = Knowledge.load()
    found = freshness.findings(k, k.releases, serve_knowledge(), gaps())
    assert [f.key for f in found if not f.acknowledged] == []
    assert {f.key for f in found} == {g["key"] for g in gaps()}, "a [[gap]] row that nothing needs any more"


def test_the_knowledge_knows_torch_215_and_transformers_525() -> None:
    k = Knowledge.load()
    release = k.torch_release(dt_version("2.15.0"))
    assert release is not None and release.pypi_default == "cu132" and release.python[0] == "3.11"
    assert release.torchvision == {"2.15.0": "0.29.2"} and release.torchaudio == {"2.15.0": "2.11.1"}
    assert k.wheel_archs("cu132", dt_version("2.15.0")) == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert k.torchcodec["2.15"] == "0.16.0"
    assert k.transformers_versions[-1] == "5.25.0"
    row = serve_knowledge().cli_for("5.25.0")
    assert row is not None and row.processes == "model-process" and "--api-server-count" in row.options


def dt_version(text: str) -> Any:
    from packaging.version import Version

    return Version(text)


# -- a new release appears: the refresh proposes rows --------------------------------------------------

def test_a_new_torch_minor_makes_the_refresh_propose_its_row() -> None:
    documents = {name: recorded(name) for name in tracked()}
    documents["torch"]["releases"]["2.16.0"] = [wheel("2.16.0", p, "2027-01-20") for p in ("3.11", "3.12", "3.15")]
    documents["torchvision"]["releases"]["0.30.0"] = [{
        "filename": "torchvision-0.30.0-py3-none-manylinux_2_28_x86_64.whl", "packagetype": "bdist_wheel",
        "requires_python": ">=3.11", "upload_time": "2027-01-20T15:10:00", "yanked": False}]
    metadata = {"2.16.0": TORCH_216, "0.30.0": {"Requires-Dist": ["torch==2.16.0"]}}
    rows = rows_from(documents, lambda version: metadata[version])
    assert rows["torch"]["2.16.0"] == Release("2.16.0", "2027-01-20", ">=3.11", wheels=("3.11", "3.12", "3.15"),
                                              cuda="13.4.1")
    assert rows["torchvision"]["0.30.0"].torch == "==2.16.0"
    found = {f.key: f for f in freshness.findings(Knowledge.load(), rows, serve_knowledge(), gaps())}
    proposal = found["torch 2.16"]
    assert not proposal.acknowledged and proposal.table == "torch.toml [[release]]"
    for line in ('minor = "2.16"', 'patches = ["2.16.0"]', 'python = ["3.11", "3.12", "3.15"]', 'cuda = ["cu134"]',
                 'pypi_default = "cu134"', 'torchvision = { "2.16.0" = "0.30.0" }', "variants_known = false"):
        assert line in proposal.row.splitlines(), line
    assert "generate_binary_build_matrix.py" in proposal.text and "torchcodec" in proposal.text


def test_a_new_patch_and_a_new_transformers_are_proposed() -> None:
    documents = {name: recorded(name) for name in tracked()}
    documents["torch"]["releases"]["2.15.1"] = [wheel("2.15.1", "3.11", "2026-12-10")]
    documents["transformers"]["releases"]["5.26.0"] = [{
        "filename": "transformers-5.26.0-py3-none-any.whl", "packagetype": "bdist_wheel",
        "requires_python": ">=3.11.0", "upload_time": "2026-12-15T12:00:00", "yanked": False}]
    metadata = {"2.15.1": TORCH_216, "5.26.0": {"Requires-Python": [">=3.11.0"], "Provides-Extra": ["torch"],
                                                "Requires-Dist": ['torch>=2.6; extra == "torch"']}}
    rows = rows_from(documents, lambda version: metadata[version])
    assert rows["transformers"]["5.26.0"].torch == ">=2.6" and rows["transformers"]["5.26.0"].extras == ("torch",)
    found = {f.key: f for f in freshness.findings(Knowledge.load(), rows, serve_knowledge(), gaps())}
    assert found["torch 2.15.1"].row == 'patches = ["2.15.0", "2.15.1"]'
    assert "scripts/serve_routes.py 5.26.0" in found["serve 5.26.0"].text


def test_a_new_companion_release_without_a_torch_requirement_is_proposed() -> None:
    documents = {name: recorded(name) for name in tracked()}
    documents["torchao"]["releases"]["0.19.0"] = [{
        "filename": "torchao-0.19.0-cp310-abi3-manylinux_2_28_x86_64.whl", "packagetype": "bdist_wheel",
        "requires_python": None, "upload_time": "2026-12-20T12:00:00", "yanked": False}]
    rows = rows_from(documents, lambda version: {"Requires-Dist": []})
    found = {f.key for f in freshness.findings(Knowledge.load(), rows, serve_knowledge(), gaps())}
    assert "torchao 0.19.0" in found


# -- a yanked release is refused -----------------------------------------------------------------------

def yank(document: dict[str, Any], version: str, reason: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for file in changed["releases"][version]:
        file["yanked"], file["yanked_reason"] = True, reason
    return changed


def test_a_release_yanked_since_the_refresh_is_refused_and_reported() -> None:
    documents = {name: recorded(name) for name in tracked()}
    documents["transformers"] = yank(documents["transformers"], "5.25.0", "broken serve")
    rows = rows_from(documents)
    assert rows["transformers"]["5.25.0"].yanked == "broken serve"
    k = Knowledge.load()
    assert freshness.newer_on_index(k, documents) == [
        "transformers 5.25.0 was yanked on PyPI (broken serve) after the knowledge was refreshed"]
    refreshed = k.with_releases(rows)
    assert "5.25.0" not in refreshed.transformers_versions
    with pytest.raises(Exception) as caught:
        resolve(ImageSpec(name="x", target="cpu", transformers="5.25.0"), refreshed)
    assert "transformers 5.25.0 was yanked from PyPI (reason: broken serve" in str(caught.value)
    assert 'Nearest valid choices: transformers = "5.24.0"' in str(caught.value)
    open_plan = resolve(ImageSpec(name="x", target="cpu", torch="2.13"), refreshed)
    assert open_plan.transformers.version == "5.24.0", "an open choice passes over the yanked release"


def test_a_yanked_torch_patch_is_proposed_for_removal() -> None:
    documents = {name: recorded(name) for name in tracked()}
    documents["torch"] = yank(documents["torch"], "2.14.1", "regression")
    found = {f.key: f for f in freshness.findings(Knowledge.load(), rows_from(documents), serve_knowledge(), gaps())}
    assert "remove it from patches" in found["torch 2.14.1 yanked"].text


# -- what doctor says ------------------------------------------------------------------------------------

def test_newer_releases_on_the_index_are_named_with_the_newest_known() -> None:
    documents = {"torch": recorded("torch")}
    documents["torch"]["releases"]["2.16.0"] = [wheel("2.16.0", "3.12", "2027-01-20")]
    assert freshness.newer_on_index(Knowledge.load(), documents) == [
        "torch 2.16.0 (uploaded 2027-01-20) is newer than the knowledge base (newest known 2.15.0)"]
    assert freshness.newer_on_index(Knowledge.load(), {"torch": recorded("torch")}) == []


# -- the generated file ----------------------------------------------------------------------------------

def test_releases_toml_renders_back_to_itself() -> None:
    """The committed file is what `render` writes for its own rows (the refresh's output is stable)."""
    k = Knowledge.load()
    text = releases.render(k.releases, dt.date.fromisoformat(read("releases.toml")["refreshed"]))
    assert text == (PACKAGED_DIR / "releases.toml").read_text()


def test_releases_parse_every_field() -> None:
    row = Release("1.0.0", "2026-01-02", ">=3.11", ">=2.6", ("a", "b"), ("3.11",), "13.2.2", "")
    text = releases.render({"pkg": {"1.0.0": row}}, dt.date(2026, 12, 7))
    import tomllib

    assert releases.parse(tomllib.loads(text)) == {"pkg": {"1.0.0": row}}
    assert replace(row, yanked=None) != row
