"""The generated docs (docs/spec.md, docs/presets.md) match their sources, and what they show is true."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard import docsgen
from dockyard.knowledge.loader import preset_names
from dockyard.resolve.resolver import resolve
from dockyard.spec.fields import FIELDS, PRESET_KEYS
from dockyard.spec.model import parse_toml, spec_from_dict

from .conftest import REPO

DOCS = REPO / "docs"
REGENERATE = "run `python -m dockyard.docsgen` and commit the result"


@pytest.mark.parametrize("name", ["spec.md", "presets.md", "coverage.md"])
def test_no_drift(name: str) -> None:
    expected = docsgen.render()[name]
    path = DOCS / name
    assert path.is_file(), f"{path} is missing: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == expected, f"{path} is out of date: {REGENERATE}"


def test_check_reports_drift_and_write_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docsgen.main(["--docs", str(tmp_path), "--check"]) == 1
    assert "spec.md: out of date" in capsys.readouterr().err
    assert docsgen.main(["--docs", str(tmp_path)]) == 0
    assert docsgen.main(["--docs", str(tmp_path), "--check"]) == 0
    (tmp_path / "presets.md").write_text("edited by hand\n", encoding="utf-8")
    assert docsgen.main(["--docs", str(tmp_path), "--check"]) == 1
    assert "presets.md: out of date" in capsys.readouterr().err


def test_generation_is_deterministic() -> None:
    assert docsgen.render() == docsgen.render()


def test_spec_reference_covers_every_key() -> None:
    text = docsgen.spec_md()
    for key in FIELDS:
        assert f"| `{key}` |" in text
    for key in PRESET_KEYS:
        assert f"| `{key}` |" in text
        assert docsgen.PRESET_KEY_MEANINGS[key]


def test_spec_reference_example_resolves() -> None:
    example = docsgen.example_spec_toml()
    assert example.rstrip("\n") in docsgen.spec_md()
    plan = resolve(spec_from_dict(parse_toml(example, "docs example"), "docs example", "example"))
    assert (plan.name, plan.torch.variant, plan.python) == ("vision-gpu", "cu130", "3.12")


def test_presets_page_has_one_section_per_preset() -> None:
    text = docsgen.presets_md()
    headings = [line.removeprefix("## ") for line in text.splitlines() if line.startswith("## ")]
    assert headings == preset_names()
    assert text.count("- **reproduces:**") == len(preset_names())


@pytest.mark.parametrize("preset", ["cpu-inference", "transformers-pytorch-deepspeed-latest-gpu"])
def test_presets_page_shows_the_resolved_plan(preset: str) -> None:
    from dockyard.spec.model import load

    plan = resolve(load(preset))
    section = docsgen.presets_md().split(f"\n## {preset}\n", 1)[1].split("\n## ", 1)[0]
    assert f"torch {plan.torch.version} ({plan.torch.variant}), Python {plan.python}" in section
    assert f"`{plan.runtime_base}`" in section


def test_readme_lists_every_preset_and_links_existing_docs() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name in preset_names():
        assert f"`{name}`" in readme, f"README's preset table lacks {name}"
    for link in re.findall(r"\]\((docs/[^)#]+)\)", readme):
        assert (Path(__file__).resolve().parents[2] / link).exists(), link
