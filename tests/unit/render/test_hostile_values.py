"""Hostile values against the Dockerfile writer: each value reads back as written, through the official
Dockerfile parser, and no value adds, removes or splits an instruction (or expands a `$VAR`)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import dockerfile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import InputError
from dockyard.render.dockerfile import emit
from dockyard.render.instructions import _PLAIN_ARG, Arg, Comment, Copy, Env, Label, Run, Stage, unquote_env
from dockyard.spec.model import load

ONE_LINE = st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), max_size=40)
BREAKS = ["\n", "\r", "\x00", "\x1b", "\x85", "\u2028", "\u2029"]


def stage(*items: object) -> str:
    return emit("header", (), (Stage("runtime", "debian:bookworm", tuple(items)),))  # type: ignore[arg-type]


def instructions(text: str) -> list[dockerfile.Command]:
    return list(dockerfile.parse_string(text))


def unescaped_dollar(raw: str) -> bool:
    """A `$` the Dockerfile lexer would expand: not preceded by an odd number of backslashes."""
    return any(len(m.group(1)) % 2 == 0 for m in re.finditer(r"(\\*)\$", raw))


@settings(max_examples=200, deadline=None)
@given(value=ONE_LINE, label=ONE_LINE)
def test_env_and_label_values_read_back_unexpanded(value: str, label: str) -> None:
    text = stage(Env((("A", value), ("B", "after"))), Label((("org.x.y", label),)), Run(("true",)))
    parsed = instructions(text)
    assert [c.cmd for c in parsed] == ["FROM", "ENV", "LABEL", "RUN"], "no value adds or splits an instruction"
    env, lab = parsed[1].value, parsed[2].value
    assert (env[0], env[2], lab[0]) == ("A", "B", "org.x.y")
    assert unquote_env(env[1]) == value and unquote_env(env[3]) == "after" and unquote_env(lab[1]) == label
    assert not unescaped_dollar(env[1]) and not unescaped_dollar(lab[1]), "docker would expand this `$`"


def test_a_dollar_in_env_is_literal() -> None:
    raw = instructions(stage(Env((("GREETING", 'hi $HOME "x" \\'),))))[1].value[1]
    assert raw == '"hi \\$HOME \\"x\\" \\\\"'


@pytest.mark.parametrize("brk", BREAKS)
def test_line_breaks_and_controls_are_refused(brk: str) -> None:
    for item in (Env((("A", f"x{brk}FROM evil"),)), Label((("a", f"x{brk}RUN evil"),)), Arg("A", f"1{brk}RUN x"),
                 Copy((f"a{brk}RUN x",), "/app/"), Run((f"true{brk}RUN evil",))):
        with pytest.raises(InputError, match="control character"):
            stage(item)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_comments_never_end_early(text: str) -> None:
    parsed = instructions(stage(Comment(text), Run(("true",), comment=text)))
    assert [c.cmd for c in parsed] == ["FROM", "RUN"]


@settings(max_examples=100, deadline=None)
@given(default=ONE_LINE)
def test_arg_defaults_read_back(default: str) -> None:
    text = emit("h", (Arg("BASE_IMAGE", "debian:bookworm"), Arg("X", default)), (Stage("s", "${BASE_IMAGE}"),))
    parsed = instructions(text)
    assert [c.cmd for c in parsed] == ["ARG", "ARG", "FROM"]
    name, _, raw = parsed[1].value[0].partition("=")
    assert name == "X" and unquote_env(raw) == default
    if _PLAIN_ARG.match(default):  # only safe characters, or `${NAME}`: dockyard's own reference to an ARG
        assert raw == default
    else:
        assert not unescaped_dollar(raw)


def test_copy_paths_with_spaces_use_the_json_form() -> None:
    parsed = instructions(stage(Copy(("my files/a b.txt",), "/app/a b.txt", chown="1000:1000")))
    assert parsed[1].json and parsed[1].value == ("my files/a b.txt", "/app/a b.txt")
    assert parsed[1].flags == ("--chown=1000:1000",)


@pytest.mark.parametrize("base", ["img AS x", "img as x", "debian:bookworm\nRUN evil", "Upper/Case", "a b",
                                  "img@sha256:short", '"quoted"', "img:tag:tag"])
def test_a_base_that_is_not_one_image_reference_is_refused(base: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[image]\ntarget = "cpu"\nbase = {base!r}\n'.replace("'", '"') if "\n" not in base else
                    '[image]\ntarget = "cpu"\nbase = "debian:bookworm\\nRUN evil"\n', encoding="utf-8")
    with pytest.raises(InputError, match="base"):
        load(str(spec))


@pytest.mark.parametrize("base", ["debian:bookworm", "nvcr.io/nvidia/pytorch:25.01-py3", "localhost:5000/a/b_c:1",
                                  "python@sha256:" + "a" * 64, "ghcr.io/acme/img:1.0-rc.1"])
def test_image_references_are_accepted(base: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[image]\ntarget = "cpu"\nbase = "{base}"\n', encoding="utf-8")
    assert load(str(spec)).base == base


@pytest.mark.parametrize("value", ["hf_" + "a1B2" * 9, "ghp_" + "x" * 36, "https://user:s3cret@example.com/simple",
                                   "AKIA" + "ABCDEFGHIJKLMNOP", "sk-proj-" + "q" * 30])
def test_secret_shaped_env_values_are_refused(value: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[image]\ntarget = "cpu"\n[image.env]\nMODEL_SOURCE = "{value}"\n', encoding="utf-8")
    with pytest.raises(InputError, match="looks like") as caught:
        load(str(spec))
    assert value not in str(caught.value), "the error never repeats the secret"


def test_ordinary_env_values_pass(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[image]\ntarget = "cpu"\n[image.env]\nHF_ENDPOINT = "https://hf.example.com"\n'
                    'TOKENIZERS_PARALLELISM = "false"\nPRICE = "$5"\n', encoding="utf-8")
    assert dict(load(str(spec)).env)["PRICE"] == "$5"


def test_every_category_refused_is_a_line_break_or_control() -> None:
    assert {unicodedata.category(c) for c in BREAKS} <= {"Cc", "Zl", "Zp"}
