"""The model built on the BuildKit parser: heredocs, escape directive, JSON form, continuations,
--mount flags, ARG-templated stages, directives, suppressions, odd input."""

from __future__ import annotations

from lint_helpers import codes, findings

from dockyard.lint.model import expand
from dockyard.lint.parser import parse
from dockyard.lint.prescan import prescan
from dockyard.lint.shell import split_commands


def test_heredoc_body_is_part_of_the_script() -> None:
    model = parse("FROM python:3.12-slim\nRUN <<EOT bash\nset -e\npip install torch==2.6.0\nEOT\nUSER 1\n")
    run = model.instructions[1]
    assert run.heredocs and "pip install torch==2.6.0" in run.script
    assert (run.start_line, run.end_line) == (2, 5)


def test_python_heredoc_is_not_shell_but_is_text() -> None:
    model = parse("FROM python:3.12-slim\nRUN python3 <<'PY'\nimport os\nPY\n")
    run = model.instructions[1]
    assert "import os" not in run.script
    assert "import os" in run.text


def test_heredoc_terminator_followed_directly_by_instruction() -> None:
    text = "FROM python:3.12-slim\nRUN <<EOT\npip install --no-cache-dir x==1\nEOT\nUSER 1000\n"
    assert "DY000" not in codes(text)
    assert "DY109" not in codes(text)


def test_two_heredocs_and_tab_stripping() -> None:
    model = parse("FROM python:3.12-slim\nRUN <<A <<-B\necho a\nA\n\techo b\n\tB\nUSER 1\n")
    assert [h.name for h in model.instructions[1].heredocs] == ["A", "B"]


def test_escape_directive_backtick() -> None:
    text = (
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN pip install `\n    torch>=2.6\nUSER app\n"
    )
    model = parse(text)
    assert model.prescan.escape == "`"
    assert model.instructions[1].end_line == 4
    assert "DY112" in codes(text)  # the continuation was joined, so the unquoted `>` is seen


def test_directives_only_at_top() -> None:
    scan = prescan(["# syntax=docker/dockerfile:1.7", "# check=skip=JSONArgsRecommended", "", "# escape=`"])
    assert scan.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=JSONArgsRecommended"}
    assert scan.escape == "\\"


def test_json_form_run() -> None:
    model = parse('FROM python:3.12-slim\nRUN ["pip", "install", "torch>=2.6"]\nRUN ["sh", "-c", "pip install x"]\n')
    assert model.instructions[1].is_json
    assert model.instructions[1].script == "pip install torch>=2.6"
    assert model.instructions[2].script == "pip install x"


def test_invalid_json_falls_back_to_shell_form() -> None:
    model = parse('FROM python:3.12-slim\nRUN [ "bad json",\n')
    assert not model.instructions[1].is_json


def test_continuation_with_blank_and_comment_lines() -> None:
    text = "FROM python:3.12-slim\nRUN pip install --no-cache-dir \\\n\n    # torch below\n    numpy==2.2.0\nUSER 1\n"
    model = parse(text)
    run = model.instructions[1]
    assert (run.start_line, run.end_line) == (2, 5)
    assert "numpy==2.2.0" in run.script
    assert model.instructions[2].cmd == "USER"


def test_mount_flags_are_parsed() -> None:
    model = parse(
        "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip,sharing=locked "
        "--mount=type=secret,id=ca pip install x\n"
    )
    run = model.instructions[1]
    assert run.flag("mount") == ["type=cache,target=/root/.cache/pip,sharing=locked", "type=secret,id=ca"]
    assert run.script == "pip install x"


def test_arg_templated_stage_names_and_chains() -> None:
    text = (
        "ARG VARIANT=cuda\nARG CUDA=12.8.1\nFROM nvidia/cuda:${CUDA}-runtime-ubuntu24.04 AS base-${VARIANT}\n"
        "FROM base-${VARIANT} AS runtime\nUSER 1000\n"
    )
    model = parse(text)
    assert [s.name for s in model.stages] == ["base-cuda", "runtime"]
    final = model.final_stage
    assert final is not None and final.parent is model.stages[0]
    assert final.root_base == "nvidia/cuda:12.8.1-runtime-ubuntu24.04"


def test_arg_scope_global_needs_redeclaring() -> None:
    model = parse("ARG A=1\nFROM x\nRUN echo\nARG A\nRUN echo\n")
    first, second = model.instructions[2], model.instructions[4]
    assert "A" not in model.env_before(first)
    assert model.env_before(second)["A"] == "1"


def test_expand_forms() -> None:
    env = {"A": "1", "E": ""}
    assert expand("${A}-$A-${B:-d}-${E:-x}-${E-y}-${A:+set}-${B:+no}", env) == "1-1-d-x--set-"
    assert expand("$UNKNOWN/bin", env) == "$UNKNOWN/bin"


def test_lowercase_instructions() -> None:
    model = parse("from python:3.12-slim\nuser root\n")
    assert [i.cmd for i in model.instructions] == ["FROM", "USER"]
    assert "DY109" in codes("from python:3.12-slim\nuser root\n")


def test_onbuild_run_is_analysed() -> None:
    assert "DY111" in codes("FROM python:3.12-slim\nONBUILD RUN pip install transformers==4.57.1\nUSER 1\n")


def test_nul_and_surrogates_do_not_crash() -> None:
    found = findings("FROM python:3.12-slim\x00\nUSER 1\n")
    assert [(f.code, f.line) for f in found] == [("DY000", 1)]
    assert "a binary file: it holds NUL bytes (the first on line 1)" in found[0].message
    assert isinstance(findings("FROM x\nRUN \udcff\udcfe\n"), list)


def test_crlf_and_bom() -> None:
    text = "\ufeffFROM python:3.12-slim\r\nRUN pip install x==1 \\\r\n  y==2\r\nUSER 1\r\n"
    model = parse(text)
    assert [i.cmd for i in model.instructions] == ["FROM", "RUN", "USER"]


def test_parse_error_has_line() -> None:
    found = findings("FROM python:3.12-slim\nUSER 1\nRUN <<EOT\necho\n")
    assert [(f.code, f.line) for f in found] == [("DY000", 3)]
    assert "unterminated heredoc" in found[0].message


def test_overlong_line_is_dy000() -> None:
    found = findings("FROM x\nRUN " + "a" * 70000 + "\n")
    assert found[0].code == "DY000" and found[0].line == 2


def test_shell_split() -> None:
    cmds = split_commands("A=1 pip install 'x<2' && curl -fsSL u | sh; cat <<EOF > f\nnot a command\nEOF\necho done")
    assert [c.argv for c in cmds] == [
        ["pip", "install", "x<2"],
        ["curl", "-fsSL", "u"],
        ["sh"],
        ["cat"],
        ["echo", "done"],
    ]
    assert cmds[0].assignments == {"A": "1"}
    assert cmds[2].piped_from_previous


def test_shell_unbalanced_quotes_never_raise() -> None:
    for text in ["echo 'unterminated", 'echo "x', "echo $(", "echo `x", "\\", "a >", "<<", "((", "2>&"]:
        split_commands(text)


def test_wrapper_script_runs_its_arguments() -> None:
    cmds = split_commands("sh /run/dockyard/fetch.sh env MAX_JOBS=2 pip install --no-build-isolation x==1")
    assert cmds[0].argv[:2] == ["pip", "install"]
    assert cmds[0].assignments == {"MAX_JOBS": "2"}


def test_inline_suppression_next_instruction_and_inside() -> None:
    text = (
        "FROM python:3.12-slim\n# dockyard: ignore=DY111\nRUN pip install transformers==4.57.1\n"
        "RUN pip install \\\n  # dockyard: ignore=DY111,DY116\n  accelerate==1.10.0\n"
        "RUN pip install peft==0.17.0\nUSER 1\n"
    )
    lines = [f.line for f in findings(text) if f.code == "DY111"]
    assert lines == [7]


def test_file_suppression() -> None:
    text = "# dockyard: ignore-file=DY109\nFROM python:3.12-slim\n"
    assert "DY109" not in codes(text)
    assert "DY109" in codes("FROM python:3.12-slim\n# dockyard: ignore=DY109\nRUN echo\n")


def test_parse_error_line_in_a_long_file() -> None:
    body = "".join(f"RUN echo step {i}\n" for i in range(2000))
    found = findings("FROM python:3.12-slim\n" + body + "ENV ONLYNAME\nUSER 1\n")
    assert [(f.code, f.line) for f in found] == [("DY000", 2002)]
