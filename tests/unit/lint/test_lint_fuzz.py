"""lint never crashes: random text, random bytes decoded every which way, and truncations and
mutations of valid Dockerfiles. Unparsable input must give DY000, and no rule may fail internally."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lint_helpers import CASES
from test_lint_rules import CASES as RULE_CASES

from dockyard.lint import Finding, lint_text
from dockyard.lint.parser import parse

SEEDS = [p.read_text(encoding="utf-8") for p in sorted(CASES.glob("*.Dockerfile"))] + [c[1] for c in RULE_CASES if c[1]]
FRAGMENTS = [
    "FROM ",
    "RUN ",
    "ARG ",
    "ENV ",
    "USER ",
    "COPY ",
    "ADD ",
    "ONBUILD ",
    "WORKDIR ",
    "SHELL ",
    "AS ",
    "\n",
    " ",
    "\\\n",
    "`\n",
    "<<EOT",
    "<<-EOT",
    "\nEOT\n",
    "'",
    '"',
    "$",
    "${",
    "}",
    "${A:-",
    "(",
    ")",
    "|",
    "&&",
    ";",
    ">",
    "<",
    "#",
    "# escape=`\n",
    "# dockyard: ignore=DY1",
    "--mount=type=cache,target=",
    "pip install ",
    "torch==",
    "+cu12",
    "git clone ",
    "--depth",
    "nvidia/cuda:12.",
    "rocm/dev-ubuntu-22.04:6.",
    "-devel",
    "MAX_JOBS=",
    "TORCH_CUDA_ARCH_LIST=",
    "curl -fsSL x | sh",
    '["',
    '"]',
    "=",
    ":",
    "\t",
    "\r\n",
    "\x00",
    "\udcff",
    "é",
]
# LINT_FUZZ_EXAMPLES=10000 for a long hunt; the default keeps the suite fast
EXAMPLES = int(os.environ.get("LINT_FUZZ_EXAMPLES", "150"))
RELAXED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_sane(text: str) -> None:
    found = lint_text(text)
    assert isinstance(found, list) and all(isinstance(f, Finding) for f in found)
    internal = [f.message for f in found if f.message.startswith("internal error")]
    assert not internal, internal
    for f in found:
        assert f.line >= 1 and f.column >= 1 and f.severity in ("error", "warning", "info")
    if parse(text).parse_error is not None:
        assert any(f.code == "DY000" for f in found)


@RELAXED
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _assert_sane(text)


@RELAXED
@given(
    st.binary(max_size=400),
    st.sampled_from(
        [
            ("utf-8", "replace"),
            ("utf-8", "surrogateescape"),
            ("utf-8", "ignore"),
            ("latin-1", "strict"),
            ("utf-16", "replace"),
        ]
    ),
)
def test_random_bytes(data: bytes, codec: tuple[str, str]) -> None:
    _assert_sane(data.decode(codec[0], errors=codec[1]))


@RELAXED
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
def test_dockerfile_like_fragments(parts: list[str]) -> None:
    _assert_sane("".join(parts))


@RELAXED
@given(st.sampled_from(SEEDS), st.data())
def test_truncated_seeds(seed: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(seed)))
    _assert_sane(seed[:cut])


@RELAXED
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_seeds(seed: str, data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        kind = data.draw(st.sampled_from(["delete", "insert", "duplicate-line", "swap-lines", "replace"]))
        pos = data.draw(st.integers(min_value=0, max_value=len(text)))
        if kind == "delete":
            end = data.draw(st.integers(min_value=pos, max_value=min(len(text), pos + 40)))
            text = text[:pos] + text[end:]
        elif kind == "insert":
            text = text[:pos] + data.draw(st.sampled_from(FRAGMENTS)) + text[pos:]
        elif kind == "replace":
            text = text[:pos] + data.draw(st.text(max_size=5)) + text[pos + 1 :]
        else:
            lines = text.split("\n")
            i = data.draw(st.integers(min_value=0, max_value=max(0, len(lines) - 1)))
            j = data.draw(st.integers(min_value=0, max_value=max(0, len(lines) - 1)))
            if kind == "duplicate-line":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    _assert_sane(text)


def test_every_seed_is_sane() -> None:
    for seed in SEEDS:
        _assert_sane(seed)


def test_case_files_exist() -> None:
    assert len(list(Path(CASES).glob("*.Dockerfile"))) >= 4
