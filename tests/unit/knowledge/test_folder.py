"""Knowledge as an installable unit: every file of the installed folder fits the schema; a site points
dockyard at a newer folder (--knowledge, $DOCKYARD_KNOWLEDGE, the site config's `knowledge`) and gets its
facts without upgrading the tool; a folder that does not fit is refused with the file, the key and what
to do (exit 2, no traceback)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli import _command_word, main
from dockyard.knowledge import schema
from dockyard.knowledge.folder import MANIFEST, PACKAGED_DIR, manifest, table_files, use_knowledge, validate
from dockyard.knowledge.loader import imports_table

from ..conftest import CliRunner, SpecWriter

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPEC_526 = '[image]\nname = "x"\ntarget = "cpu"\ntorch = "2.13"\ntransformers = "5.26.0"\n'
ROW_526 = ('"5.26.0" = { uploaded = "2026-12-15", python = ">=3.11.0", torch = ">=2.6", '
           'extras = ["serving", "torch", "vision"] }\n')


@pytest.fixture(autouse=True)
def installed_knowledge() -> Iterator[None]:
    yield
    use_knowledge(None)


@pytest.fixture
def site_folder(tmp_path: Path) -> Path:
    """A copy of the installed knowledge tables, to be made newer or broken."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name in table_files():
        shutil.copy(PACKAGED_DIR / name, folder / name)
    return folder


def newer(folder: Path) -> Path:
    """The folder with a transformers release the installed knowledge lacks, as a refresh writes it."""
    path = folder / "releases.toml"
    path.write_text(path.read_text().replace('"5.25.0" = {', ROW_526 + '"5.25.0" = {', 1))
    manifest_path = folder / MANIFEST
    manifest_path.write_text(manifest_path.read_text().replace('version = "2026.12.07"', 'version = "2026.12.16"')
                             .replace('refreshed = "2026-12-07"', 'refreshed = "2026-12-16"'))
    return folder


# -- the schema ------------------------------------------------------------------------------------------

def test_the_schema_covers_every_file_of_the_installed_folder() -> None:
    assert sorted(schema.FILES) == table_files()


@pytest.mark.parametrize("name", table_files())
def test_every_installed_file_fits_the_schema(name: str) -> None:
    document = tomllib.loads((PACKAGED_DIR / name).read_text(encoding="utf-8"))
    assert schema.problems(name, document) == []


def test_the_installed_folder_carries_its_version_and_date() -> None:
    found = manifest(PACKAGED_DIR)
    assert found.schema == schema.SCHEMA and found.version.startswith(str(found.refreshed.year))
    assert set(found.tracked) == {"torch", "torchvision", "torchaudio", "torchcodec", "torchao", "transformers"}
    assert validate(PACKAGED_DIR) == []


@pytest.mark.parametrize(("file", "old", "new", "said"), [
    ("torch.toml", 'python = ["3.11", "3.12", "3.13", "3.14", "3.15"]', 'python = "3.11"',
     "torch.toml: release[14].python: expected a list of strings, found str '3.11'"),
    ("cuda.toml", 'torch = ">=2.15,<2.16"', 'torch = "about 2.15"',
     "cuda.toml: archs[9].torch: expected a version specifier string"),
    ("serve.toml", 'processes = "model-process"', 'processes = 2',
     "serve.toml: cli[0].processes: expected a string, found int 2"),
    ("addons.toml", 'no_build_isolation = true', 'no_build_isolaton = true',
     "addons.toml: addon.deepspeed.no_build_isolaton: unknown key"),
    ("knowledge.toml", "schema = 1", "schema = 2", "knowledge.toml: schema = 2, but this dockyard reads schema 1"),
    ("releases.toml", '"5.25.0" = { uploaded = "2026-12-01"', '"5.25.0" = { uploaded = "Dec 1"',
     "releases.toml: transformers.5.25.0.uploaded: expected a date string YYYY-MM-DD, found str 'Dec 1'"),
    ("pins.toml", "[uv]", "[uv\n", "pins.toml: not valid TOML"),
], ids=["list", "specifier", "type", "unknown-key", "schema-version", "date", "toml"])
def test_a_folder_that_does_not_fit_is_refused_with_file_and_key(site_folder: Path, run_cli: CliRunner, file: str,
                                                                 old: str, new: str, said: str) -> None:
    path = site_folder / file
    assert old in path.read_text(), f"the case no longer matches {file}"
    path.write_text(path.read_text().replace(old, new, 1))
    result = run_cli(["--knowledge", str(site_folder), "check", "cpu-inference"])
    assert result.code == 2
    assert said in result.err and "Traceback" not in result.err
    assert "does not fit this dockyard's schema" in result.err and "refresh_knowledge.py --knowledge DIR" in result.err


def test_a_folder_missing_a_file_or_not_a_folder_is_refused(site_folder: Path, run_cli: CliRunner) -> None:
    (site_folder / "rocm.toml").unlink()
    result = run_cli(["--knowledge", str(site_folder), "presets"])
    assert result.code == 2 and "rocm.toml: missing" in result.err
    result = run_cli(["--knowledge", str(site_folder / "nope"), "presets"])
    assert result.code == 2 and "is not a folder" in result.err


# -- a newer folder without a newer dockyard -------------------------------------------------------------

def test_a_newer_folder_is_used_without_upgrading_dockyard(site_folder: Path, run_cli: CliRunner,
                                                          write_spec: SpecWriter) -> None:
    spec = str(write_spec(SPEC_526))
    refused = run_cli(["check", spec])
    assert refused.code == 2 and "matches no release dockyard knows (newest known 5.25.0)" in refused.err
    assert "refreshed from PyPI on 2026-12-07" in refused.err and "--knowledge DIR" in refused.err
    accepted = run_cli(["--knowledge", str(newer(site_folder)), "check", spec, "--json"])
    assert accepted.code == 0, accepted.err
    assert '"version": "5.26.0"' in accepted.out


def test_the_folder_comes_from_the_environment_or_the_site_config(site_folder: Path, run_cli: CliRunner,
                                                                  write_spec: SpecWriter, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = str(write_spec(SPEC_526))
    newer(site_folder)
    monkeypatch.setenv("DOCKYARD_KNOWLEDGE", str(site_folder))
    assert run_cli(["check", spec]).code == 0
    monkeypatch.delenv("DOCKYARD_KNOWLEDGE")
    config = tmp_path / "config.toml"
    config.write_text(f'knowledge = "{site_folder}"\n')
    monkeypatch.setenv("DOCKYARD_CONFIG", str(config))
    assert run_cli(["check", spec]).code == 0
    config.write_text("knowledge = 3\n")
    result = run_cli(["check", spec])
    assert result.code == 2 and "knowledge must be a string" in result.err


def test_the_top_level_option_does_not_hide_the_command() -> None:
    assert _command_word(["--knowledge", "check", "check", "x.toml"]) == "check"
    assert _command_word(["--knowledge=/k", "doctor"]) == "doctor"
    assert _command_word(["--version"]) is None


def test_help_documents_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--knowledge DIR" in out and "$DOCKYARD_KNOWLEDGE" in out


def test_what_import_and_lint_read_of_dockerfiles_comes_from_the_folder_in_use(site_folder: Path) -> None:
    path = site_folder / "imports.toml"
    old = 'packages = ["accelerate", '
    path.write_text(path.read_text().replace(old, 'packages = ["site-only-lib", "accelerate", ', 1))
    assert "site-only-lib" not in imports_table()["torch_dependents"]["packages"]
    use_knowledge(site_folder)
    assert "site-only-lib" in imports_table()["torch_dependents"]["packages"]
