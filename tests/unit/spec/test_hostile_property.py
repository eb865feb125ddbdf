"""Property: a hostile string in any string field of the spec is either refused (exit 2, the message
names the field) or rendered where neither BuildKit nor a shell interprets it.

The check reads the rendered Dockerfile with the BuildKit parser (the `dockerfile` binding), then reads
each instruction as its consumer does: RUN text as POSIX sh reads it (what is live outside single
quotes), ENV/LABEL/ARG values as BuildKit's word lexer does (quotes removed, escapes applied, each
unescaped `$NAME`/`${NAME}` an expansion), ENTRYPOINT/CMD as JSON. Against a render of the minimal spec
(the same preset of instructions without the hostile value), the hostile one must add no instruction,
no live shell syntax and no expansion; and where the value lands as data (an ENV value, the description
label, the argv), BuildKit must read back exactly the value. DOCKYARD_FUZZ_EXAMPLES scales the count.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import dockerfile
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dockyard.cli import main
from dockyard.spec.fields import FIELDS

from .test_fuzz import toml_key, toml_value

SCALE = float(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "1"))
FRAGMENTS = ["$(id)", "`id`", "${HOME}", "$HOME", "$", ";", "|", "&&", "&", "'", '"', "\\", "\n", "\r", "\t",
             "\x1b[31m", "\x00", "\x7f", "..", "../", "/", "/etc/passwd", " ", "#", "*", "<", ">", "(", ")",
             "~", "-", "--index-url=x", "a", "v1", "9", "é", "\u2028", "=", ",", "@", ":", "[x]", "{}", "%"]
HOSTILE = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map("".join),
    st.tuples(st.sampled_from(FRAGMENTS), st.integers(200, 3000)).map(lambda pair: pair[0] * pair[1]),
)
STRING_FIELDS = sorted(key for key, spec_field in FIELDS.items() if spec_field.kind in ("string", "strings", "env"))
ACTIVE_SHELL = set("$`;|&<>()\n")
# no control character, so the free-text fields (description, env, entrypoint, cmd) render it
RENDERABLE = "$(id) `id` ${HOME} $HOME ' \" \\ ; | && < > ( ) # * ~ ../../etc/passwd --index-url=x é"


def document(key: str, value: str) -> dict[str, Any]:
    image: dict[str, Any] = {"target": "cpu"}
    kind = FIELDS[key].kind
    image[key] = [value] if kind == "strings" else {"HOSTILE_VALUE": value} if kind == "env" else value
    return {"image": image}


def write(folder: Path, doc: dict[str, Any]) -> Path:
    lines = []
    for table, keys in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in keys.items() if not isinstance(v, dict)]
        for name, sub in ((k, v) for k, v in keys.items() if isinstance(v, dict)):
            lines.append(f"[{table}.{toml_key(name)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in sub.items()]
    path = folder / "spec.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def render(folder: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = write(folder, doc)
    capsys.readouterr()
    code = main(["render", str(path), "-o", str(folder / "out")])
    err = capsys.readouterr().err
    text = (folder / "out" / "Dockerfile").read_text(encoding="utf-8") if code == 0 else ""
    return code, err, text


# -- reading the Dockerfile as its consumers do -------------------------------------------------------------


def shell_live(text: str) -> Counter[str]:
    """The characters of a POSIX sh command that the shell interprets (outside single quotes and escapes;
    inside double quotes only `$` and backquotes are live)."""
    live: Counter[str] = Counter()
    state, i = "plain", 0
    while i < len(text):
        char = text[i]
        if state == "single":
            state = "plain" if char == "'" else state
        elif char == "\\":
            i += 1  # the next character is quoted
        elif state == "double":
            if char == '"':
                state = "plain"
            elif char in "$`":
                live[char] += 1
        elif char == "'":
            state = "single"
        elif char == '"':
            state = "double"
        elif char in ACTIVE_SHELL:
            live[char] += 1
        i += 1
    return live


def buildkit_word(raw: str) -> tuple[str, list[str]]:
    """(the value BuildKit reads from `raw`, the expansions it performs), per its shell lexer: `\\` escapes
    any character outside quotes and only `"`, `$` and `\\` inside double quotes; single quotes are literal."""
    out: list[str] = []
    expansions: list[str] = []
    state, i = "plain", 0
    while i < len(raw):
        char = raw[i]
        if state == "single":
            if char == "'":
                state = "plain"
            else:
                out.append(char)
        elif char == "\\" and i + 1 < len(raw) and (state == "plain" or raw[i + 1] in '"$\\'):
            out.append(raw[i + 1])
            i += 1
        elif char == "$" and i + 1 < len(raw) and (raw[i + 1] == "{" or raw[i + 1].isalnum() or raw[i + 1] == "_"):
            expansions.append(raw[i : i + 2])
            out.append(char)
        elif char == '"':
            state = "plain" if state == "double" else "double"
        elif char == "'" and state == "plain":
            state = "single"
        else:
            out.append(char)
        i += 1
    return "".join(out), expansions


def reading(text: str) -> dict[str, Any]:
    """What BuildKit and the shell make of a Dockerfile: keywords, live shell syntax, expansions, data."""
    keywords, live, expansions = [], Counter[str](), Counter[str]()
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    argv: dict[str, list[str]] = {}
    for command in dockerfile.parse_string(text):
        keyword = command.cmd.upper()
        keywords.append(keyword)
        values = list(command.value or ())
        if keyword == "RUN" and not command.json:
            live.update(shell_live(" ".join(values)))
        elif keyword in ("ENV", "LABEL"):
            for name, raw in zip(values[::2], values[1::2], strict=True):
                value, found = buildkit_word(raw)
                expansions.update(found)
                (env if keyword == "ENV" else labels)[name] = value
        elif keyword == "ARG":
            for item in values:
                _, _, raw = item.partition("=")
                expansions.update(buildkit_word(raw)[1])
        elif keyword in ("ENTRYPOINT", "CMD"):
            assert command.json, f"{keyword} must be in exec form: {command.original}"
            argv[keyword] = list(values)
    return {"keywords": keywords, "live": live, "expansions": expansions, "env": env, "labels": labels,
            "argv": argv}


BASELINE: dict[str, Any] = {}


def baseline(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    if not BASELINE:
        with tempfile.TemporaryDirectory(prefix="dockyard-hostile-") as tmp:
            code, err, text = render(Path(tmp), {"image": {"target": "cpu"}}, capsys)
            assert code == 0, err
            BASELINE.update(reading(text))
    return BASELINE


@pytest.mark.parametrize("key", STRING_FIELDS)
def test_hostile_strings_are_refused_or_stay_data(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = baseline(capsys)

    @settings(max_examples=max(1, int(12 * SCALE)), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(value=HOSTILE)
    @example(value=RENDERABLE)
    def check(value: str) -> None:
        with tempfile.TemporaryDirectory(prefix="dockyard-hostile-") as tmp:
            code, err, text = render(Path(tmp), document(key, value), capsys)
        assert code in (0, 2), err
        if code == 2:
            assert f"[image].{key}" in err, err
            assert "Traceback" not in err
            return
        rendered.append(value)
        seen = reading(text)
        assert seen["keywords"] == base["keywords"], "the value added or removed instructions"
        assert seen["live"] == base["live"], "the value added shell syntax to a RUN"
        assert seen["expansions"] == base["expansions"], "the value added a BuildKit expansion"
        if key == "env":
            assert seen["env"]["HOSTILE_VALUE"] == value
        if key == "description":
            assert seen["labels"]["org.opencontainers.image.description"] == value
        if key in ("entrypoint", "cmd"):
            assert value in seen["argv"]["ENTRYPOINT"] + seen["argv"]["CMD"]
        json.dumps(seen["argv"])  # plain data

    rendered: list[str] = []
    check()
    if key in ("description", "env", "entrypoint", "cmd"):
        assert RENDERABLE in rendered, f"{key} refused {RENDERABLE!r}: the data checks never ran"


@pytest.mark.parametrize(("raw", "value", "expansions"), [
    ('"a \\$HOME \\"q\\" \\\\"', 'a $HOME "q" \\', []),
    ('"${HOME}"', "${HOME}", ["${"]),
    ("plain", "plain", []),
    ("'$x'", "$x", []),
])
def test_the_buildkit_reading_itself(raw: str, value: str, expansions: list[str]) -> None:
    assert buildkit_word(raw) == (value, expansions)


def test_the_shell_reading_itself() -> None:
    assert shell_live("echo 'a;$(b)' \"$c\" d;e") == Counter({"$": 1, ";": 1})
