"""Hostile values against the HCL, YAML and Apptainer writers: every output is parsed back (python-hcl2, a
YAML parser, an Apptainer section scan) and its structure is the one dockyard meant, whatever the value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import InputError
from dockyard.resolve.resolver import resolve
from dockyard.scale import hcl, yamlout
from dockyard.scale.actions import parse_pin
from dockyard.scale.apptainer import DefOptions, definition_text, write_definition
from dockyard.scale.bake import write_bake
from dockyard.scale.select import select
from dockyard.scale.workflow import WorkflowOptions, workflow
from dockyard.scale.yamlout import Commented, Expression
from dockyard.spec.model import load

yaml = pytest.importorskip("ruamel.yaml")

HOSTILE = ["x\nevil: 1", "x\n%setup\n    rm -rf ~", 'x" }\ntarget "evil" {', "${{ secrets.TOKEN }}", "a\rb",
           "  lead\nnext", "x\u2028%post", "${env.HOME} %{if}", "'", '"', "\\", "#", "a: b", "- x", "\x00", "\x1b[2J"]
TEXT = st.text(max_size=40)


def parse_yaml(text: str) -> Any:
    return yaml.YAML(typ="safe", pure=True).load(text)


def hcl_string(raw: str) -> str:
    """What bake reads from a quoted HCL string written by hcl.literal."""
    assert not re.search(r"(?<!\$)\$\{", raw) and not re.search(r"(?<!%)%\{", raw), f"interpolated: {raw}"
    return str(json.loads(raw)).replace("$${", "${").replace("%%{", "%{")


# -- HCL -------------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(text=TEXT, key=TEXT, note=TEXT)
def test_hcl_values_keys_and_comments_keep_the_structure(text: str, key: str, note: str) -> None:
    document = "\n\n".join([
        hcl.block("variable", ["V"], [("default", text)], note),
        hcl.block("target", ["t"], [("labels", {key or "k": text}), ("tags", [text, "b"])], note),
    ]) + "\n"
    parsed = {k: v for k, v in hcl2.loads(document).items() if not k.startswith("__")}  # its __comments__
    assert set(parsed) == {"variable", "target"} and len(parsed["variable"]) == len(parsed["target"]) == 1
    assert list(parsed["variable"][0]) == ['"V"'] and list(parsed["target"][0]) == ['"t"']
    target = parsed["target"][0]['"t"']
    assert hcl_string(parsed["variable"][0]['"V"']["default"]) == text
    (raw_key, raw_value), = target["labels"].items()
    assert hcl.key_name(key or "k") == (key or "k") or hcl_string(raw_key) == (key or "k")
    assert hcl_string(raw_value) == text and [hcl_string(t) for t in target["tags"]] == [text, "b"]


def test_a_quoted_hcl_key_is_not_a_template() -> None:
    assert hcl.key_name("a.${x}") == '"a.$${x}"'


def test_hcl_block_names_are_bake_names() -> None:
    with pytest.raises(InputError, match="bake target name"):
        hcl.block("target", ['x" {\n'], [])


@pytest.mark.parametrize("registry", [*HOSTILE, "Upper/x", "ghcr.io/acme:tag", "https://user:pw@ghcr.io/acme"])
def test_bake_refuses_a_registry_that_is_not_one(registry: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--registry"):
        write_bake(select(["cpu-inference"]), tmp_path / "docker-bake.hcl", registry=registry)
    assert not (tmp_path / "docker-bake.hcl").exists() and not (tmp_path / "dockyard-contexts").exists()


def test_bake_names_that_collide_after_sanitising_are_refused(tmp_path: Path) -> None:
    for name in ("a.b", "a-b"):
        (tmp_path / f"{name}.toml").write_text(f'[image]\nname = "{name}"\nextends = "cpu-inference"\n')
    with pytest.raises(InputError, match="both become the bake name 'a-b'"):
        write_bake(select([str(tmp_path / "a.b.toml"), str(tmp_path / "a-b.toml")]), tmp_path / "out" / "b.hcl")
    assert not (tmp_path / "out").exists(), "nothing written"


def test_bake_never_deletes_a_users_folder(tmp_path: Path) -> None:
    folder = tmp_path / "contexts" / "cpu-inference"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM mine\n")
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not a build context dockyard wrote"):
        write_bake(select(["cpu-inference"]), tmp_path / "docker-bake.hcl", tmp_path / "contexts")
    assert (folder / "Dockerfile").read_text() == "FROM mine\n" and (folder / "notes.txt").read_text() == "precious"
    assert not (tmp_path / "docker-bake.hcl").exists()


def test_bake_replaces_only_its_own_files(tmp_path: Path) -> None:
    output = tmp_path / "docker-bake.hcl"
    write_bake(select(["cpu-inference"]), output, tmp_path / "ctx")
    write_bake(select(["cpu-inference"]), output, tmp_path / "ctx")  # its own: replaced
    output.write_text("# my own bake file\n")
    with pytest.raises(InputError, match="was not written by dockyard"):
        write_bake(select(["cpu-inference"]), output, tmp_path / "ctx")
    assert output.read_text() == "# my own bake file\n"


# -- YAML ------------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(text=TEXT, header=TEXT)
def test_yaml_values_read_back_and_keep_the_keys(text: str, header: str) -> None:
    if "${{" in text:
        with pytest.raises(InputError, match="expression"):
            yamlout.dump({"a": text})
        return
    document = {"a": text, "b": [text, {"c": text, "d": 1}], "e": "end"}
    data = parse_yaml(yamlout.dump(document, [header]))
    assert data == document


@pytest.mark.parametrize("comment", ["v1\nevil: 1", "v1\r", "v1\u2028x"])
def test_yaml_comments_with_line_breaks_are_refused(comment: str) -> None:
    with pytest.raises(InputError, match="control character"):
        yamlout.dump({"uses": Commented("a/b@" + "0" * 40, comment)})


def test_a_block_scalar_that_would_not_read_back_is_quoted() -> None:
    document = {"run": "  lead\nevil: 1", "after": "x"}
    assert parse_yaml(yamlout.dump(document)) == document


def test_dockyards_own_expressions_pass() -> None:
    text = yamlout.dump({"tags": Expression("a/${{ matrix.name }}:latest\nb\n")})
    assert parse_yaml(text) == {"tags": "a/${{ matrix.name }}:latest\nb\n"}


def options(**changes: Any) -> WorkflowOptions:
    return WorkflowOptions(**changes)


@pytest.mark.parametrize(("option", "value"), [
    ("registry", "ghcr.io/acme\nevil: 1"), ("registry", "ghcr.io/${{ secrets.TOKEN }}"),
    ("registry", "user:pw@ghcr.io/acme"), ("transformers_ref", "main' || secrets.TOKEN || '"),
    ("transformers_ref", "../../evil/repo"), ("transformers_ref", "main\nx"), ("branch", "main\nevil: 1"),
    ("runner", "ubuntu ${{ secrets.X }}"), ("cron", "* * * *\nevil: 1"), ("install", "dockyard\nevil: 1"),
    ("install", "dockyard @ https://user:tok@example.com/d.whl"), ("install", "${{ secrets.TOKEN }}"),
])
def test_workflow_options_are_checked(option: str, value: str) -> None:
    with pytest.raises(InputError):
        workflow(select(["cpu-inference"]), options(**{option: value}))


@pytest.mark.parametrize("pin", ["actions/checkout=" + "a" * 40 + "#v1\nevil: 1",
                                 "actions/checkout=" + "a" * 40 + "#v1 ${{ x }}"])
def test_action_pin_versions_are_release_names(pin: str) -> None:
    with pytest.raises(InputError, match="release name"):
        parse_pin(pin)


@settings(max_examples=25, deadline=None)
@given(command=TEXT)
def test_the_workflow_header_never_adds_a_key(command: str) -> None:
    data = parse_yaml(workflow(select(["cpu-inference"]), options(command=command)))
    assert list(data) == ["name", "on", "permissions", "concurrency", "jobs"]


# -- Apptainer -------------------------------------------------------------------------------------------

SECTION = re.compile(r"^\s*%([A-Za-z]+)", re.M)  # any line Apptainer could take for a section


def sections(text: str) -> list[str]:
    return SECTION.findall(text)


@pytest.mark.parametrize("image", [v for v in HOSTILE if v.strip()] + ["img AS x", "a b", "ok:1\n%setup"])
def test_from_image_must_be_one_reference(image: str) -> None:
    with pytest.raises(InputError, match="--from-image"):
        definition_text(resolve(load("cpu-inference")), DefOptions(from_image=image))


@settings(max_examples=50, deadline=None)
@given(command=TEXT)
def test_apptainer_header_never_opens_a_section(command: str) -> None:
    text = definition_text(resolve(load("cpu-inference")), DefOptions(from_image="", command=command))
    assert sections(text) == ["environment", "runscript", "labels", "test", "help"]


@pytest.mark.parametrize("target", ["img\n%setup\nrm -rf ~", "img AS x", "x y"])
def test_a_base_map_target_must_be_one_reference(target: str, tmp_path: Path) -> None:
    plan = resolve(load("cpu-inference"))
    with pytest.raises(InputError):
        write_definition(plan, tmp_path / "a.def", DefOptions(base_map=((plan.runtime_base, target),)))
    assert not (tmp_path / "a.def").exists() and not (tmp_path / "a-context").exists()


def test_apptainer_values_are_single_quoted_and_context_paths_checked(tmp_path: Path) -> None:
    plan = resolve(load("cpu-inference"))
    written = write_definition(plan, tmp_path / "a.def", DefOptions())
    text = written[0].read_text()
    assert "export TORCH_VERSION='{{ TORCH_VERSION }}'" in text and '="{{' not in text
    assert sections(text).count("post") == 2 and "setup" not in sections(text)
    with pytest.raises(InputError, match="spaces"):
        write_definition(plan, tmp_path / "b.def", DefOptions(), context_dir=tmp_path / "my context")


def test_apptainer_never_replaces_a_users_def(tmp_path: Path) -> None:
    mine = tmp_path / "a.def"
    mine.write_text("Bootstrap: docker\nFrom: mine\n")
    with pytest.raises(InputError, match="not written by dockyard"):
        write_definition(resolve(load("cpu-inference")), mine, DefOptions(from_image=""))
    assert mine.read_text() == "Bootstrap: docker\nFrom: mine\n"


def test_the_transformers_ref_never_reaches_an_expression() -> None:
    data = parse_yaml(workflow(select(["cpu-inference"]), options(transformers_ref="v5.24.0")))
    env = data["jobs"]["resolve"]["steps"][0]["env"]
    assert env == {"REF": "${{ inputs.transformers-ref }}", "DEFAULT_REF": "v5.24.0"}
    assert data["on"]["workflow_dispatch"]["inputs"]["transformers-ref"]["default"] == "v5.24.0"


@settings(max_examples=10, deadline=None)
@given(command=TEXT)
def test_the_bake_header_never_adds_a_block(command: str) -> None:
    from dockyard.render.renderer import render
    from dockyard.scale.bake import BakeImage, bake_text

    item = select(["cpu-inference"])[0]
    text = bake_text([BakeImage(item, render(item.plan), "ctx")], command=command + '\ntarget "evil" {}\n')
    parsed = hcl2.loads(text)
    assert '"evil"' not in {name for block in parsed["target"] for name in block}
