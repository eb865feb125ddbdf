"""`dockyard lint` through dockyard.cli.main: formats, exit codes, --ignore, --fail-level, config, stdin."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
from lint_helpers import CASES

from dockyard.cli import main

CLEAN = CASES / "clean-cuda-multistage.Dockerfile"
MESSY = CASES / "messy-gpu.Dockerfile"
SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
LINE = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+) (?P<code>(DY|DL|SC)\d{3,4}) (?P<sev>error|warning|info) .+$"
)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty folder so no config file of the checkout is picked up."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(MESSY), "--hadolint", "off")
    assert code == 1
    lines = out.splitlines()
    findings = [line for line in lines if not line.startswith("    fix: ")]
    assert findings and all(LINE.match(line) for line in findings), findings
    assert sum(1 for line in lines if line.startswith("    fix: ")) == len(findings)
    assert {"DY101", "DY102", "DY104", "DY106", "DY108", "DY110", "DY111", "DY112", "DY116"} <= {
        LINE.match(line).group("code")
        for line in findings  # type: ignore[union-attr]
    }
    assert "findings" in err


def test_clean_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(CLEAN), "--hadolint", "off")
    assert (code, out) == (0, "")
    assert "no findings" in err


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(MESSY), "--format", "json", "--hadolint", "off")
    data = json.loads(out)
    assert code == 1
    assert data["summary"]["files"] == 1 and data["summary"]["findings"] == len(data["findings"])
    first = data["findings"][0]
    assert set(first) == {"code", "name", "severity", "message", "fix", "path", "line", "column", "source"}
    assert [f["line"] for f in data["findings"]] == sorted(f["line"] for f in data["findings"])


def test_sarif_is_valid_sarif_2_1_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(MESSY), str(CLEAN), "--format", "sarif", "--hadolint", "auto")
    log = json.loads(out)
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [e.message for e in errors[:5]]
    assert code == 1
    run_ = log["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    for result in run_["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_with_no_findings_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(CLEAN), "--format", "sarif", "--hadolint", "off")
    log = json.loads(out)
    jsonschema.validators.validator_for(SCHEMA)(SCHEMA).validate(log)
    assert code == 0 and log["runs"][0]["results"] == []


def test_fail_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warnings_only = write(tmp_path, "Dockerfile", "FROM python:3.12-slim\nRUN pip install transformers==4.57.1\n")
    assert run(capsys, str(warnings_only), "--hadolint", "off")[0] == 1
    assert run(capsys, str(warnings_only), "--hadolint", "off", "--fail-level", "error")[0] == 0
    info_only = write(tmp_path, "info.Dockerfile", "FROM python:3.12-slim\nRUN hf download gpt2\nUSER 1000\n")
    assert run(capsys, str(info_only), "--hadolint", "off")[0] == 0
    assert run(capsys, str(info_only), "--hadolint", "off", "--fail-level", "info")[0] == 1


def test_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "Dockerfile", 'FROM python:3.12-slim\nCMD ["python"]\n')
    code, out, _ = run(capsys, str(path), "--hadolint", "off")
    assert code == 1 and "DY109" in out
    code, out, _ = run(capsys, str(path), "--hadolint", "off", "--ignore", "dy109")
    assert (code, out) == (0, "")
    code, _, err = run(capsys, str(path), "--ignore", "DY190")
    assert code == 2 and "did you mean" in err


def test_inline_suppression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '# dockyard: ignore=DY109\nFROM python:3.12-slim\nCMD ["python"]\n'
    assert run(capsys, str(write(tmp_path, "Dockerfile", text)), "--hadolint", "off")[:2] == (0, "")


def test_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "Dockerfile", "FROM python:3.12-slim\nRUN hf download gpt2\n")
    write(tmp_path, ".dockyard-lint.toml", 'hadolint = "off"\nfail-level = "info"\nignore = ["DY109"]\n')
    code, out, _ = run(capsys, str(path))
    assert code == 1 and "DY115" in out and "DY109" not in out
    write(tmp_path, ".dockyard-lint.toml", 'hadolint = "off"\nignore = ["DY115"]\n[severity]\nDY109 = "info"\n')
    code, out, _ = run(capsys, str(path))
    assert code == 0 and "DY109 info" in out
    assert run(capsys, str(path), "--fail-level", "info")[0] == 1  # the flag wins over the file


def test_pyproject_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "sub/Dockerfile", "FROM python:3.12-slim\n")
    text = '[project]\nname = "x"\n[tool.dockyard.lint]\nignore = ["DY109"]\nhadolint = "off"\n'
    write(tmp_path, "pyproject.toml", text)
    assert run(capsys, str(path))[:2] == (0, "")


def test_explicit_config_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "Dockerfile", "FROM python:3.12-slim\nUSER 1000\n")
    bad = write(tmp_path, "lint.toml", 'hadolint = "off"\nfail_level = "error"\n')
    code, _, err = run(capsys, str(path), "--config", str(bad))
    assert code == 2 and "unknown key 'fail_level'" in err and "fail-level" in err
    for text, needle in [
        ('severity = { DY109 = "fatal" }\n', "invalid severity"),
        ('hadolint = "maybe"\n', "invalid hadolint mode"),
        ('ignore = "DY109"\n', "must be a list"),
        ("ignore = [\n", "not valid TOML"),
        ('ignore = ["DY999"]\n', "unknown rule code"),
    ]:
        write(tmp_path, "lint.toml", text)
        code, _, err = run(capsys, str(path), "--config", str(bad))
        assert code == 2 and needle in err, (text, err)
    code, _, err = run(capsys, str(path), "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "not found" in err
    good = write(tmp_path, "ok.toml", 'hadolint = "off"\n')
    assert run(capsys, str(path), "--config", str(good))[0] == 0


def test_missing_path_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "does/not/exist")
    assert code == 2 and out == "" and "no such file" in err and "Traceback" not in err


def test_bad_choice_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lint", str(CLEAN), "--format", "xml"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_folder_discovery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "proj/Dockerfile", "FROM python:3.12-slim\nUSER 1000\n")
    write(tmp_path, "proj/docker/gpu.dockerfile", "FROM python:3.12-slim\n")
    write(tmp_path, "proj/Containerfile.cpu", "FROM python:3.12-slim\nUSER 1000\n")
    write(tmp_path, "proj/README.md", "FROM not-a-dockerfile\n")
    write(tmp_path, "proj/.git/Dockerfile", "FROM ignored\n")
    code, out, _ = run(capsys, str(tmp_path / "proj"), "--format", "json", "--hadolint", "off")
    data = json.loads(out)
    assert data["summary"]["files"] == 3
    assert {Path(f["path"]).name for f in data["findings"]} == {"gpu.dockerfile"}
    assert code == 1


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"FROM python:3.12-slim\nUSER root\n")))
    code, out, _ = run(capsys, "-", "--hadolint", "off")
    assert code == 1 and out.startswith("-:2:1 DY109 warning")


def test_unparsable_file_is_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "Dockerfile", "FROM python:3.12-slim\nRUN <<EOT\necho\n")
    code, out, err = run(capsys, str(path), "--hadolint", "auto")
    assert code == 1 and ":2:1 DY000 error" in out and "DL1000" not in out and "Traceback" not in err


def test_binary_file_does_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 20)
    code, out, err = run(capsys, str(path), "--hadolint", "off")
    assert code == 1 and "DY000" in out and "Traceback" not in err
