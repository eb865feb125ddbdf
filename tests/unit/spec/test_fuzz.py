"""`dockyard check` never crashes: random TOML-ish text, random bytes, random documents of known and
unknown keys with values of every TOML type, random version strings and random add-on and modality
lists, written to a spec file. The exit code is 0 or 2; a 2 prints `error:` with a message naming the
file on stderr; nothing raises (an exception that is not a DockyardError fails the test with its
traceback). DOCKYARD_FUZZ_EXAMPLES scales the number of examples (default: a moderate count)."""

from __future__ import annotations

import datetime
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dockyard.cli import main
from dockyard.knowledge.loader import Knowledge, preset_names
from dockyard.spec.fields import FIELDS, MODALITIES, TARGETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCALE = float(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "1"))


def examples(count: int) -> settings:
    return settings(max_examples=max(1, int(count * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


K = Knowledge.load()
ADDONS = sorted(K.addons)
VARIANTS = sorted({v for r in K.torch_releases for v in r.variants()})
EXTRAS = list(K.transformers_extras(None))
PRESETS = preset_names()

# -- a small TOML writer (the fuzz decides what goes in; tomllib checks it reads back) ----------------------


def toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(document: dict[str, Any]) -> str:
    """Plain keys first, then one [table] per dict (its values inline)."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for name, table in document.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_key(name)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# -- strategies ------------------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
INTERESTING = st.sampled_from([
    "", " ", "cpu", "cuda", "rocm", "none", "nightly", "main", "git:", "git:main", "3.12", "2.6", "latest",
    "${HOME}", "[image]", "a\nb", "-e .", "--index-url=x", "x" * 300, "é", "\x00", "deepspeed", "gfx942", "9.0",
])
SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), TEXT, INTERESTING,
    st.datetimes(), st.dates(), st.times(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)
KEYS = st.one_of(st.sampled_from(list(FIELDS)), st.sampled_from(["torhc", "Target", "gpu_archs", "image", ""]), TEXT)


def misspelled(words: list[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(words), st.integers(0, 12), TEXT.filter(lambda t: len(t) <= 2)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1:])


VERSIONS = st.one_of(
    st.from_regex(r"\A[0-9]{1,2}(\.[0-9]{1,3}){0,3}\Z"),
    st.from_regex(r"\A(==|>=|<=|~=|!=|<|>|===)\s?[0-9]{1,2}(\.([0-9]{1,2}|\*)){0,2}(,\s?(<|>=|!=)[0-9]\.[0-9]{1,2})?\Z"),
    st.sampled_from(["nightly", "none", "main", "git:", "git:v5.24.0", "latest", "2.6.0+cpu", "2.6.0a1", "v2.6",
                     "2.6.0.post1", "2.*", "==2.6.*", ">=2.5,<2.7", "1!2.0", "2.6.0.dev20260101", "3", "3.1000",
                     ">=9", "<2", "==", ">= 2.5 , < 2.7", "2..6", ".6"]),
    TEXT,
)


def typed_value(key: str) -> st.SearchStrategy[Any]:
    """Values of the right TOML type for a known key, with contents anywhere from valid to absurd."""
    field = FIELDS[key]
    word = st.one_of(st.sampled_from(list(field.choices)), misspelled(list(field.choices))) if field.choices \
        else st.one_of(INTERESTING, TEXT)
    if key in ("python", "torch", "transformers"):
        word = VERSIONS
    if key == "variant":
        word = st.one_of(st.sampled_from(VARIANTS), misspelled(VARIANTS), TEXT)
    if key == "extends":
        word = st.one_of(st.sampled_from(PRESETS), misspelled(PRESETS), st.just("missing.toml"), TEXT)
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "env":
        return st.dictionaries(st.one_of(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,8}\Z"), TEXT), TEXT, max_size=3)
    if field.kind == "strings":
        items: dict[str, st.SearchStrategy[str]] = {
            "addons": st.one_of(st.sampled_from(ADDONS), misspelled(ADDONS),
                                st.from_regex(r"\A[a-z-]{1,12}(==[0-9.]{1,8}|@[a-z0-9]{1,40})?\Z"), TEXT),
            "extras": st.one_of(st.sampled_from(EXTRAS), misspelled(EXTRAS), TEXT),
            "gpu-archs": st.one_of(st.sampled_from(["7.0", "7.5", "8.0", "9.0", "9.0a", "12.0+PTX", "gfx942",
                                                    "gfx90a", "gfx950", "gfx1151", "3.5", "99.9"]),
                                   st.from_regex(r"\A[0-9]{1,2}\.[0-9][af]?(\+PTX)?\Z"), TEXT),
            "packages": st.one_of(st.sampled_from(["einops", "einops==0.8.2", "numpy>=1.26", "torch==2.5",
                                                   "torchvision", "x @ https://e.com/x.tar.gz", "a[b]==1", "=="]),
                                  TEXT),
        }
        return st.lists(items.get(key, word), max_size=4)
    return word


@st.composite
def typed_documents(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(list(FIELDS)), max_size=8, unique=True))
    image = {key: draw(typed_value(key)) for key in keys}
    if "extends" not in image and draw(st.booleans()):
        image["target"] = draw(st.sampled_from(TARGETS))
    return {"image": image}


@st.composite
def wild_documents(draw: st.DrawFn) -> dict[str, Any]:
    image = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    document: dict[str, Any] = {"image": image} if draw(st.booleans()) else {}
    if draw(st.booleans()):
        document["preset"] = draw(st.dictionaries(TEXT, VALUES, max_size=3))
    extra = draw(st.dictionaries(TEXT.filter(lambda k: k not in ("image", "preset")), VALUES, max_size=2))
    return {**extra, **document}


@st.composite
def version_documents(draw: st.DrawFn) -> dict[str, Any]:
    image: dict[str, Any] = {"target": draw(st.sampled_from([*TARGETS, *TARGETS, "gpu"]))}
    for key in ("python", "torch", "transformers"):
        if draw(st.booleans()):
            image[key] = draw(VERSIONS)
    if draw(st.booleans()):
        image["variant"] = draw(st.one_of(st.sampled_from(VARIANTS), TEXT))
    return {"image": image}


@st.composite
def list_documents(draw: st.DrawFn) -> dict[str, Any]:
    image: dict[str, Any] = {"target": draw(st.sampled_from(TARGETS))}
    image["addons"] = draw(typed_value("addons"))
    image["modalities"] = draw(st.lists(st.one_of(st.sampled_from(MODALITIES), misspelled(list(MODALITIES))),
                                        max_size=4))
    for key in ("extras", "gpu-archs", "exclude"):
        if draw(st.booleans()):
            image[key] = draw(typed_value(key))
    if draw(st.booleans()):
        image["torch"] = draw(st.sampled_from(["2.6", "2.9", "2.11", "2.14", "nightly", "none"]))
    return {"image": image}


FRAGMENTS = st.sampled_from([
    "[image]\n", "[preset]\n", "[image.env]\n", "[[image]]\n", 'target = "cpu"\n', 'target = "cuda"\n', "torch = ",
    "python = ", '"2.6"', '"3.12"', "addons = [", '"deepspeed"', "]", "[", "=", "\n", '"', "'", "'''", '"""', "#",
    "{", "}", ",", " ", "1979-05-27T07:32:00Z", "nan", "inf", "true", "0x1F", "1_000", "\\u00e9", "\\", "\t",
    "extends = ", '"cpu-inference"', "modalities = ", '["vision"]', "\r\n", "\x00", "é",
])
TOMLISH = st.lists(st.one_of(FRAGMENTS, TEXT), max_size=30).map("".join)


# -- running the CLI --------------------------------------------------------------------------------------

@contextmanager
def spec_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dockyard-fuzz-") as folder:
        yield Path(folder) / "spec.toml"


def check_file(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    assert code in (0, 2), (code, captured.err)
    assert "Traceback" not in captured.err
    if code == 2:
        assert captured.err.startswith("error: "), captured.err
        message = captured.err.splitlines()[0].removeprefix("error: ").strip()
        assert message, captured.err
        assert str(path) in captured.err, f"the message names the file: {captured.err}"
    else:
        assert "plan for" in captured.out
    return code, captured.out, captured.err


def check_bytes(data: bytes, capsys: pytest.CaptureFixture[str]) -> int:
    with spec_path() as path:
        path.write_bytes(data)
        return check_file(path, capsys)[0]


def check_document(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> int:
    text = toml_document(document)
    return check_bytes(text.encode("utf-8"), capsys)


# -- the properties ------------------------------------------------------------------------------------------

@examples(150)
@given(text=TOMLISH)
def test_random_tomlish_text(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_bytes(text.encode("utf-8", "surrogatepass"), capsys)


@examples(40)
@given(data=st.binary(max_size=200))
def test_random_bytes(data: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    check_bytes(data, capsys)


@examples(150)
@given(document=wild_documents())
def test_random_documents_of_any_keys_and_types(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check_document(document, capsys)


@examples(200)
@given(document=typed_documents())
def test_random_documents_of_known_keys(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check_document(document, capsys)


@examples(200)
@given(document=version_documents())
def test_random_versions(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check_document(document, capsys)


@examples(150)
@given(document=list_documents())
def test_random_addon_and_modality_lists(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check_document(document, capsys)


@examples(100)
@given(document=st.one_of(typed_documents(), wild_documents()))
def test_the_toml_writer_reads_back(document: dict[str, Any]) -> None:
    """The writer feeds what the strategies drew (so the fuzz reaches validation, not only the parser)."""
    assume(not any(isinstance(v, float) and math.isnan(v) for v in _leaves(document)))
    assert tomllib.loads(toml_document(document)) == _normalized(document)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _normalized(value: Any) -> Any:
    """What tomllib gives back: -0.0 stays, times lose nothing; only containers are rebuilt."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


@st.composite
def free_text_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A spec that resolves, with the free-text keys (description, env, entrypoint, cmd, packages) drawn at
    random: what render copies into the Dockerfile."""
    image: dict[str, Any] = {"target": "cpu", "torch": "2.13", "python": "3.12"}
    if draw(st.booleans()):
        image["description"] = draw(TEXT)
    if draw(st.booleans()):
        image["env"] = draw(st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,6}\Z"), TEXT, max_size=3))
    for key in ("entrypoint", "cmd"):
        if draw(st.booleans()):
            image[key] = draw(st.lists(TEXT, max_size=3))
    if draw(st.booleans()):
        image["packages"] = draw(st.lists(st.one_of(
            st.sampled_from(["a[b]==1", "x @ https://example.com/x.tar.gz", "y; python_version > '3'", "q>=1,<2"]),
            st.from_regex(r"\A[a-z][a-z0-9._-]{0,8}(==[0-9][0-9.]{0,4})?\Z")), max_size=3))
    return {"image": image}


@examples(100)
@given(document=free_text_documents())
def test_render_of_any_resolving_spec_parses(document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """`dockyard render` exits 0 or 2, and what it prints parses with the BuildKit parser."""
    import dockerfile

    with spec_path() as path:
        path.write_text(toml_document(document), encoding="utf-8")
        capsys.readouterr()
        code = main(["render", str(path)])
        captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    if code == 2:
        assert captured.err.startswith("error: ") and str(path) in captured.err
        return
    commands = dockerfile.parse_string(captured.out)
    assert [c.value[-1] for c in commands if c.cmd.upper() == "FROM"] == ["base", "builder", "runtime"]


def test_some_fuzzed_documents_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    """The list strategy is not all refusals: a plain draw of it resolves (guards against a fuzz that only
    ever exercises error paths)."""
    document = {"image": {"target": "cpu", "addons": ["bitsandbytes"], "modalities": ["text", "vision"]}}
    assert check_document(document, capsys) == 0
