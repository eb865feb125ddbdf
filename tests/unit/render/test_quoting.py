"""The render side's quoting: a value that slipped past the spec's grammars still stays data."""

from __future__ import annotations

import shlex
from pathlib import Path

import dockerfile
import pytest

from dockyard.render.dockerfile import emit_instruction
from dockyard.render.instructions import Arg, Env, Label, arg_default
from dockyard.render.quoting import shell_word

from ..conftest import CliRunner, SpecWriter
from ..spec.test_hostile_property import buildkit_word, shell_live

HOSTILE = ["$(id)", "`id`", "${HOME}", "$HOME", 'a "b" c', "it's", "back\\slash\\", "a b;c|d&e>f<g", "${X:-$(id)}",
           "-x", "", "é ~ #"]
# an ARG default that is only a ${NAME} reference is dockyard's own template and stays plain (instructions.py)
ARG_HOSTILE = [v for v in HOSTILE if v != "${HOME}"]


def parsed_values(text: str) -> list[str]:
    (command,) = dockerfile.parse_string(f"FROM scratch\n{text}\n")[1:]
    return list(command.value)


@pytest.mark.parametrize("value", HOSTILE)
def test_env_and_label_values_read_back_unexpanded(value: str) -> None:
    for item in (Env((("A", value), ("B", "1"))), Label((("a", value),))):
        values = parsed_values(emit_instruction(item))
        assert buildkit_word(values[1]) == (value, [])


@pytest.mark.parametrize("value", ARG_HOSTILE)
def test_arg_defaults_read_back_unexpanded(value: str) -> None:
    (item,) = parsed_values(emit_instruction(Arg("X", value)))
    name, _, raw = item.partition("=")
    assert name == "X" and buildkit_word(raw) == (value, [])


def test_plain_arg_defaults_stay_bare_and_templates_stay_live() -> None:
    assert emit_instruction(Arg("TORCH_VERSION", "2.6.0")) == "ARG TORCH_VERSION=2.6.0"
    assert arg_default("") == ""
    template = Arg("TORCH_INDEX_URL", "https://download.pytorch.org/whl/${TORCH_VARIANT}")
    assert emit_instruction(template) == "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}"


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_words_are_one_inert_word(value: str) -> None:
    word = shell_word(value)
    assert shlex.split(f"pip install {word}") == ["pip", "install", value]
    assert not shell_live(word)


def test_plain_shell_words_keep_the_usual_double_quotes() -> None:
    requirement = "deepspeed @ https://github.com/microsoft/DeepSpeed/archive/abc123.tar.gz"
    assert shell_word(requirement) == f'"{requirement}"'


@pytest.mark.parametrize("value", HOSTILE)
def test_reading_a_quoted_value_back(value: str) -> None:
    from dockyard.render.instructions import quote_env, unquote_env

    assert unquote_env(quote_env(value)) == value


def test_apptainer_exports_the_env_value_itself(run_cli: CliRunner, write_spec: SpecWriter, tmp_path: Path) -> None:
    value = "$(touch /tmp/x) `id` ${HOME} \"q\" it's \\"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    spec = write_spec(f'[image]\ntarget = "cpu"\n[image.env]\nHOSTILE = "{escaped}"\n')
    result = run_cli(["apptainer", str(spec), "-o", str(tmp_path / "image.def")])
    assert result.code == 0, result.err
    exports = [line.strip() for line in (tmp_path / "image.def").read_text(encoding="utf-8").splitlines()
               if line.strip().startswith("export HOSTILE=")]
    assert exports and all(shlex.split(line) == ["export", f"HOSTILE={value}"] for line in exports)
