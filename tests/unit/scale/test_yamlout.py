"""The workflow YAML writer: every scalar reads back as written, in YAML 1.1 and 1.2 parsers alike."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.scale.yamlout import Commented, Expression, Node, dump, scalar

yaml = pytest.importorskip("ruamel.yaml")

TRICKY = ["on", "yes", "No", "true", "null", "~", "1.0", "017", "1e3", "a: b", "a #b", "#x", "-x", "*x", "&x", "!x",
          "%x", "@x", "`x", "{x}", "[x]", "x:", "'q'", '"dq"', " lead", "trail ", "", "${{ github.sha }}",
          "${{ a == 'b' }}", "type=gha,scope=${{ matrix.name }},mode=max", "ubuntu-24.04", "dockyard==0.1.0",
          "ünïcode", "tab\there", "back\\slash"]


def parse(text: str) -> Any:
    return yaml.YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize("value", TRICKY)
def test_scalars_read_back(value: str) -> None:
    node = Expression(value) if "${{" in value else value  # dockyard's own expressions are marked as such
    assert parse(dump({"k": node}))["k"] == value


def test_yaml_1_1_words_are_quoted() -> None:
    for word in ("on", "yes", "No", "off", "y"):
        assert scalar(word).startswith('"')
    assert scalar(True) == "true" and scalar(3) == "3" and scalar(None) == "null"


def test_structure_comments_and_block_scalars() -> None:
    document: dict[str, Node] = {
        "on": {"push": {"branches": ["main"]}},
        "jobs": {"a": {"steps": [{"uses": Commented("x/y@" + "a" * 40, "v1.2.3"), "with": {"k": False}},
                                 {"run": "echo one\necho 'two'\n"}, {"run": "no newline\nat end"}]}},
        "empty": {}, "none": [],
    }
    text = dump(document, ["header line"])
    assert text.startswith("# header line\non:\n")
    assert f"uses: x/y@{'a' * 40}  # v1.2.3" in text
    data = parse(text)
    assert data["on"] == {"push": {"branches": ["main"]}}
    steps = data["jobs"]["a"]["steps"]
    assert steps[0]["uses"] == "x/y@" + "a" * 40 and steps[0]["with"] == {"k": False}
    assert steps[1]["run"] == "echo one\necho 'two'\n" and steps[2]["run"] == "no newline\nat end"
    assert data["empty"] == {} and data["none"] == []
