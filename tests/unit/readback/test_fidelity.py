"""Fidelity computed: the comparison of an original with an image, both read by the reader, and the record
that explains every difference and nothing else. Then the real thing: every preset against its original."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.knowledge.fidelity import record_from_dict
from dockyard.knowledge.loader import preset_dir, preset_names
from dockyard.lint.parser import parse
from dockyard.readback.compare import Comparison, compare
from dockyard.readback.originals import ORIGINALS_DIR, load_original, original_file
from dockyard.readback.presets import preset_comparison, preset_record
from dockyard.readback.reader import read

from ..conftest import CliRunner
from .conftest import REFERENCE

OWN_PRESETS = ("cpu-inference", "cpu-serve")  # dockyard's own images: they reproduce nothing
REPRODUCING = [name for name in preset_names() if name not in OWN_PRESETS]

ORIGINAL = """\
FROM python:3.11-slim
ARG REF=main
RUN apt-get update && apt-get install -y git libsndfile1-dev
RUN pip install 'torch<=2.11.0' torchcodec --index-url https://download.pytorch.org/whl/cpu
RUN pip install timm accelerate quanto && pip uninstall -y ninja
RUN git lfs install
ENV MODE=fast
"""
IMAGE = """\
FROM python:3.11-slim AS base
RUN apt-get update && apt-get install -y git libsndfile1 tini ca-certificates
FROM base AS builder
ENV VIRTUAL_ENV=/opt/venv
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
RUN pip install torchcodec==0.14.0 --index-url https://download.pytorch.org/whl/cu130
RUN pip install timm==1.0.31 optimum-quanto==0.2.7 transformers[testing]==5.22.2
RUN pip install ninja==1.13.2 && pip install --no-build-isolation detectron2
FROM base
COPY --from=builder /opt/venv /opt/venv
ENV MODE=slow LANG=C.UTF-8
"""


def comparison(fidelity: dict[str, object]) -> Comparison:
    record = record_from_dict("p", {"fidelity": {"original": "docker/x.dockerfile", **fidelity}})
    assert record is not None
    return compare(read(parse(ORIGINAL)), read(parse(IMAGE)), record,
                   {"testing": ["accelerate", "pytest"]})


EXPLAINED: dict[str, object] = {
    "packages": {
        "torch": {"changed": {"why": "a newer torch"}},
        "torchcodec": {"changed": {"why": "the CUDA build"}},
        "quanto": {"replaced": {"by": ["optimum-quanto"], "why": "renamed"}},
        "ninja": {"added": "detectron2's build needs it"},
        "detectron2": {"added": "w"},
        "transformers": {"added": "w"},
    },
    "extras": {"transformers[testing]": {"added": "w"}},
    "system": {"libsndfile1-dev": {"replaced": {"by": "libsndfile1", "why": "the runtime library"}}},
    "env": {"MODE": {"changed": {"why": "w"}}},
    "args": {"REF": {"dropped": {"why": "w", "source": "s"}}},
    "steps": {"git lfs install": {"dropped": {"why": "w", "source": "s"}}},
}


def _by_status(fidelity: dict[str, object]) -> dict[str, object]:
    """EXPLAINED is written item first for reading; records are status first."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for kind, items in fidelity.items():
        assert isinstance(items, dict)
        for name, entry in items.items():
            for status, value in entry.items():
                out.setdefault(kind, {}).setdefault(status, {})[name] = value
    return dict(out)


def test_a_record_that_explains_every_difference_passes() -> None:
    result = comparison(_by_status(EXPLAINED))
    assert result.problems == ()
    status = {(r.kind, r.name): r.status for r in result.rows}
    assert status[("packages", "timm")] == "kept" and status[("system", "git")] == "kept"
    assert status[("packages", "accelerate")] == "provided", "transformers[testing] installs it (knowledge)"
    assert status[("packages", "optimum-quanto")] == "replacement"
    assert status[("system", "tini")] == status[("env", "LANG")] == "own"


def test_a_package_a_builder_stage_puts_in_the_copied_venv_is_in_the_image() -> None:
    """The false claim of issue 20: ninja recorded as dropped while detectron2's build step installs it into
    the venv the final stage copies."""
    explained = _by_status(EXPLAINED)
    packages = explained["packages"]
    assert isinstance(packages, dict)
    del packages["added"]["ninja"]
    packages["dropped"] = {"ninja": {"why": "the original uninstalls it", "source": "s"}}
    (problem,) = comparison(explained).problems
    assert "'ninja' is recorded as dropped, but the original lacks it and the image has it" in problem


def test_silence_about_a_difference_is_a_problem() -> None:
    explained = _by_status(EXPLAINED)
    del explained["steps"], explained["env"]
    problems = "\n".join(comparison(explained).problems)
    assert "'git lfs install' is in the original (present) and the image lacks it; the record does not say why" \
        in problems
    assert "'MODE' is in the original (fast) and the image has 'slow' instead" in problems


def test_an_index_difference_is_a_difference() -> None:
    explained = _by_status(EXPLAINED)
    packages = explained["packages"]
    assert isinstance(packages, dict)
    del packages["changed"]["torchcodec"]
    (problem,) = comparison(explained).problems
    assert "'torchcodec' is in the original ( (cpu))" in problem or "torchcodec" in problem
    assert "(cu130)" in problem


@pytest.mark.parametrize(("edit", "expected"), [
    ({"system": {"kept": ["git"]}}, "what is kept is computed"),
    ({"packages": {"provided": {"timm": "extra:testing"}}}, "the original and the image both have it, alike"),
    ({"packages": {"dropped": {"gptqmodel": {"why": "w", "source": "s"}}}}, "neither the original nor the image"),
    ({"packages": {"provided": {"pytest": "extra:testing"}}}, "neither the original nor the image"),
    ({"system": {"replaced": {"git": {"by": ["gitx"], "why": "w"}}}}, "the original and the image both have it"),
    ({"env": {"added": {"LANG": "w"}}}, "dockyard's own"),
])
def test_records_cannot_invent_or_omit(edit: dict[str, object], expected: str) -> None:
    explained = _by_status(EXPLAINED)
    for kind, table in edit.items():
        assert isinstance(table, dict)
        merged = explained.setdefault(kind, {})
        assert isinstance(merged, dict)
        for status, entries in table.items():
            if isinstance(entries, dict):
                merged.setdefault(status, {}).update(entries)
            else:
                merged[status] = entries
    try:
        problems = "\n".join(comparison(explained).problems)
    except SpecError as exc:
        problems = str(exc)
    assert expected in problems


def test_replacements_and_providers_must_be_in_the_image() -> None:
    explained = _by_status(EXPLAINED)
    system = explained["system"]
    packages = explained["packages"]
    assert isinstance(system, dict) and isinstance(packages, dict)
    system["replaced"] = {"libsndfile1-dev": {"by": ["libsndfile2"], "why": "w"}}
    packages["replaced"] = {}
    packages["provided"] = {"quanto": "package:optimum"}
    problems = "\n".join(comparison(explained).problems)
    assert "'libsndfile1-dev' is recorded as replaced by libsndfile2, which the image lacks" in problems
    assert "'quanto' is recorded as provided by 'package:optimum', but the image does not have optimum" in problems


@pytest.mark.parametrize(("table", "message"), [
    ({"original": "x"}, "needs original = \"docker/PATH\""),
    ({"original": "docker/x", "packages": {"lost": {"a": {"why": "w", "source": "s"}}}}, "unknown status 'lost'"),
    ({"original": "docker/x", "packages": {"dropped": {"a": {"why": "w"}}}}, "dropped needs why and source"),
    ({"original": "docker/x", "packages": {"replaced": {"a": {"why": "w"}}}}, "replaced needs by and why"),
    ({"original": "docker/x", "packages": {"provided": {"a": "wheel:x"}}}, "unknown provider"),
    ({"original": "docker/x", "packages": {"added": {"A_b": "w"}, "changed": {"a-b": {"why": "w"}}}},
     "is both added and changed"),
    ({"original": "docker/x", "volumes": {}}, "unknown table 'volumes'"),
])
def test_malformed_records_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        record_from_dict("p", {"fidelity": table})


# -- the presets ------------------------------------------------------------------------------------------------


def test_every_reproducing_preset_has_a_record_and_a_stored_original() -> None:
    for name in REPRODUCING:
        record = preset_record(name)
        assert original_file(record.originals).is_file(), f"{name}: run scripts/refresh_originals.py"
    stored = {p.stem for p in ORIGINALS_DIR.glob("*.toml")}
    wanted = {original_file(preset_record(n).originals).stem for n in REPRODUCING}
    assert stored == wanted, "knowledge/originals/ holds exactly the originals the records name"


@pytest.mark.parametrize("name", REPRODUCING)
def test_stored_originals_are_what_the_reader_finds_in_the_originals(name: str) -> None:
    """knowledge/originals/ is computed: reading transformers' files again gives the same inventory."""
    from dockyard.readback.originals import original_document

    if not (REFERENCE / "SOURCES.tsv").is_file():
        pytest.skip(f"transformers' originals are not here ({REFERENCE}): reference data beside the project")
    record = preset_record(name)
    stored = load_original(record.originals)
    texts = [(path, (REFERENCE / path.removeprefix("docker/")).read_text(encoding="utf-8"))
             for path in record.originals]
    assert original_document(record.originals, stored.commits, texts) == \
        original_file(record.originals).read_text(encoding="utf-8"), "rerun scripts/refresh_originals.py"


@pytest.mark.parametrize("name", REPRODUCING)
def test_every_item_of_the_original_is_accounted_for(name: str) -> None:
    """The computed fidelity check: every item of the original kept or explained, every item the image adds
    explained, and every claim of the record true of the final stage as rendered."""
    problems = preset_comparison(name).problems
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_fidelity_command(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli(["fidelity", "quality", "--json"])
    assert result.code in (0, 1) and '"preset": "quality"' in result.out
    newer = tmp_path / "Dockerfile"
    newer.write_text("FROM python:3.12-slim\nRUN pip install brand-new-package\n", encoding="utf-8")
    result = run_cli(["fidelity", "torch-light", "--original", str(newer)])
    assert result.code == 1 and "brand-new-package" in result.err + result.out
    assert run_cli(["fidelity", "cpu-inference"]).code == 2
    assert run_cli(["fidelity", "no-such-preset"]).code == 2
    assert (preset_dir() / "quality.toml").is_file()
