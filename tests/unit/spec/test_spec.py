"""spec: loading files and presets, validation with "did you mean", extends, digests, the JSON schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.knowledge.loader import preset_names
from dockyard.spec.fields import FIELDS, json_schema
from dockyard.spec.model import ImageSpec, load, name_from_stem, parse_toml, spec_from_dict, suggest

from ..conftest import SpecWriter


def refused(write_spec: SpecWriter, text: str) -> SpecError:
    path = write_spec(text)
    with pytest.raises(SpecError) as info:
        load(str(path))
    assert str(path) in info.value.message
    return info.value


def test_minimal_spec_defaults(write_spec: SpecWriter) -> None:
    spec = load(str(write_spec('[image]\ntarget = "cpu"\n', "My Image.toml")))
    assert spec.name == "my-image"
    assert spec.target == "cpu"
    assert (spec.profile, spec.user, spec.bytecode) == ("runtime", "dockyard", "loaded")
    assert spec.modalities == ("text",)
    assert spec.cmd == ("python",)
    assert spec.python is None and spec.torch is None and spec.transformers is None and spec.slim is None
    assert spec.source.endswith("My Image.toml")


def test_every_key_is_read(write_spec: SpecWriter, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hi')\n")
    text = """[image]
name = "full"
description = "every key"
target = "cuda"
profile = "ci"
python = "3.12"
torch = "2.14"
variant = "cu130"
transformers = "5.24.0"
transformers-install = "dependencies"
addons = ["bitsandbytes", "bitsandbytes"]
modalities = ["text", "vision"]
extras = ["testing"]
packages = ["einops==0.8.2"]
allow-direct-references = true
exclude = ["pillow"]
system-packages = ["curl"]
apt-archives = ["intel-graphics"]
gpu-archs = ["9.0"]
base = "nvidia/cuda:13.0.3-base-ubuntu24.04"
user = "app"
slim = false
bytecode = "all"
runtime-toolchain = true
files = ["app.py"]
entrypoint = ["python", "app.py"]
cmd = ["--help"]
lock = "full.lock"

[image.env]
B = "2"
A = "1"
"""
    spec = load(str(write_spec(text)))
    assert spec.addons == ("bitsandbytes",), "duplicates are dropped, order kept"
    assert spec.system_packages == ("curl",) and spec.gpu_archs == ("9.0",)
    assert spec.env == (("A", "1"), ("B", "2")), "env is sorted"
    assert spec.slim is False and spec.bytecode == "all" and spec.user == "app"
    assert spec.runtime_toolchain is True and spec.apt_archives == ("intel-graphics",)
    assert spec.lock == "full.lock" and spec.transformers_install == "dependencies"
    assert spec.root == str(tmp_path.resolve())
    assert set(spec.to_toml_dict()) == set(FIELDS) - {"extends"}


@pytest.mark.parametrize("preset", preset_names())
def test_preset_loads_with_its_metadata(preset: str) -> None:
    spec = load(preset)
    assert spec.source == f"preset {preset}"
    assert spec.name == preset
    assert {"description", "reproduces", "changes"} <= dict(spec.preset).keys()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[image]\ntarget = "cuda12"\n', ("[image].target", 'unknown value "cuda12"', 'did you mean "cuda"?')),
        ('[image]\ntarget = "cpu"\nprofil = "ci"\n', ("[image].profil", "unknown key", 'did you mean "profile"?')),
        ('[image]\ntarget = "cpu"\nprofile = "prod"\n', ("[image].profile", "choose from: runtime, dev, ci")),
        ('[image]\ntarget = "cpu"\nbytecode = "some"\n', ("[image].bytecode", "choose from: loaded, all, none")),
        ('[image]\ntarget = "cpu"\nmodalities = ["audo"]\n', ("[image].modalities", 'did you mean "audio"?')),
        ('[image]\ntarget = "cpu"\nslim = "yes"\n', ("[image].slim", "must be true or false")),
        ('[image]\ntarget = "cpu"\nextras = "testing"\n', ("must be a list of strings", 'extras = ["testing"]')),
        ('[image]\ntarget = "cpu"\npackages = [1, 2]\n', ("[image].packages", "must be a list of strings")),
        ('[image]\ntarget = "cpu"\nenv = "A=1"\n', ("[image].env", "must be a table")),
        ('[image]\ntarget = "cpu"\n[image.env]\nA = 1\n', ("[image].env.A", "must be a string", 'A = "1"')),
        ('[image]\ntarget = "cpu"\n[image.env]\n"1A" = "x"\n', ("[image].env", "not a valid environment variable")),
        ('[image]\ntarget = "cpu"\n[image.env]\nAWS_SECRET_ACCESS_KEY = "x"\n', ("looks like a secret",)),
        ('[image]\ntarget = "cpu"\n[image.env]\nA = "x\\ny"\n', ("[image].env.A", "newlines")),
        ('[image]\ntarget = "cpu"\nuser = "Root User"\n', ("[image].user", "not a valid user name")),
        ('[image]\ntarget = "cpu"\ngpu-archs = ["sm_90"]\n', ("[image].gpu-archs", "is not a GPU arch")),
        ('[image]\ntarget = "cpu"\npython = "3"\n', ("[image].python", "not a Python minor version")),
        ('[image]\ntarget = "cpu"\nsystem-packages = ["Curl!"]\n', ("[image].system-packages", "apt package")),
        ('[image]\ntarget = "cpu"\npackages = [" "]\n', ("[image].packages", "not a valid entry")),
        ('[image]\ntarget = "cpu"\nfiles = ["a\\tb"]\n', ("[image].files", "not a valid entry")),
        ('target = "cpu"\n', ("unknown table or key 'target' at the top level", "spec keys go under [image]")),
        ('[preset]\ndescription = "x"\n', ("no [image] table", 'target = "cpu"')),
        ('image = 3\n', ("image must be a table",)),
        ('preset = 3\n[image]\ntarget = "cpu"\n', ("preset must be a table",)),
        ('[image]\nname = "x"\n', ("[image].target is required",)),
        ('[image]\ntarget = "cpu\n', ("not valid TOML",)),
        ('[image]\ntarget = "cpu"\nname = "My Image"\n',
         ("[image].name", "not a valid image name", 'name = "my-image"')),
        ('[image]\ntarget = "cpu"\nname = "../../etc"\n', ("[image].name", "not a valid image name")),
        ('[image]\ntarget = "cpu"\ndescription = "a\\u0000b"\n', ("[image].description", "U+0000")),
        ('[image]\ntarget = "cpu"\ncmd = ["a\\u001bb"]\n', ("[image].cmd", "control character U+001B")),
        ('[image]\ntarget = "cpu"\ntarget = "cuda"\n', ("not valid TOML",)),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v else None,
)
def test_invalid_specs_are_refused_with_where_and_what(write_spec: SpecWriter, text: str,
                                                        fragments: tuple[str, ...]) -> None:
    error = refused(write_spec, text)
    shown = str(error)
    for fragment in fragments:
        assert fragment in shown


def test_unknown_key_hint_lists_every_key(write_spec: SpecWriter) -> None:
    error = refused(write_spec, '[image]\ntarget = "cpu"\nversion = "1"\n')
    assert error.hint and all(key in error.hint for key in FIELDS)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_bytes(b'[image]\ntarget = "\xff"\n')
    with pytest.raises(SpecError, match="cannot read"):
        load(str(path))


def test_a_reference_that_is_neither_file_nor_preset() -> None:
    with pytest.raises(SpecError) as info:
        load("cpu-inferense")
    assert "neither a spec file nor a preset" in info.value.message
    assert info.value.hint and 'did you mean "cpu-inference"?' in info.value.hint


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        load(str(tmp_path / "nope.toml"))


def test_extends_a_preset_overrides_keys_and_merges_env(write_spec: SpecWriter) -> None:
    spec = load(str(write_spec('[image]\nextends = "examples-torch"\npython = "3.12"\nmodalities = ["text"]\n'
                               '[image.env]\nEXTRA = "1"\n', "child.toml")))
    parent = load("examples-torch")
    assert spec.name == "child", "the name is not inherited"
    assert spec.python == "3.12"
    assert spec.modalities == ("text",), "lists are replaced"
    assert spec.packages == parent.packages
    assert dict(spec.env) == {**dict(parent.env), "EXTRA": "1"}, "env is merged"


def test_extends_a_file_relative_to_the_spec(write_spec: SpecWriter, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec('[image]\ntarget = "cpu"\npackages = ["einops"]\n', "specs/base.toml")
    child = write_spec('[image]\nextends = "base.toml"\npython = "3.12"\n', "specs/child.toml")
    monkeypatch.chdir(tmp_path)  # not the specs' folder
    spec = load(str(child))
    assert (spec.target, spec.packages, spec.python) == ("cpu", ("einops",), "3.12")


def test_extends_errors_are_reported_where_extends_is_written(write_spec: SpecWriter) -> None:
    write_spec('[image]\ntarget = "cpu"\nfoo = 1\n', "base.toml")
    child = write_spec('[image]\nextends = "base.toml"\n', "child.toml")
    with pytest.raises(SpecError) as info:
        load(str(child))
    assert "base.toml: [image].foo: unknown key" in info.value.message


def test_extends_cycle(write_spec: SpecWriter) -> None:
    write_spec('[image]\nextends = "b.toml"\n', "a.toml")
    b = write_spec('[image]\nextends = "a.toml"\n', "b.toml")
    with pytest.raises(SpecError, match="is a cycle"):
        load(str(b))


def test_extends_is_refused_without_a_loader() -> None:
    with pytest.raises(SpecError, match="extends is not supported here"):
        spec_from_dict({"image": {"extends": "cpu-inference"}}, "<test>", "x")


def test_digest_depends_on_content_not_location(write_spec: SpecWriter) -> None:
    text = '[image]\nname = "same"\ntarget = "cpu"\ntorch = "2.13"\n'
    first = load(str(write_spec(text, "one/spec.toml")))
    second = load(str(write_spec(text, "two/spec.toml")))
    other = load(str(write_spec(text.replace("2.13", "2.12"), "three/spec.toml")))
    assert first.digest() == second.digest() != other.digest()
    assert first.digest().startswith("sha256:") and len(first.digest()) == len("sha256:") + 64


def test_to_toml_dict_round_trips(write_spec: SpecWriter) -> None:
    for preset in preset_names():
        spec = load(preset)
        serve = {"serve": spec.serve.to_toml_dict()} if spec.serve else {}
        again = spec_from_dict({"image": spec.to_toml_dict(), **serve}, spec.source, spec.name)
        assert again == spec


def test_suggest_and_names() -> None:
    assert suggest("deepspeeed", ["deepspeed", "apex"]) == 'did you mean "deepspeed"? '
    assert suggest("zzz", ["deepspeed"]) == ""
    assert name_from_stem("My Spec (v2)") == "my-spec-v2"
    assert name_from_stem("...") == "image"
    for text in ("a..b", "x_-y", "a___b", "_a."):  # always a name docker takes, never the refused one again
        assert name_from_stem(text) in ("a-b", "x-y", "a")


def test_the_hint_for_a_refused_name_is_a_valid_other_name(write_spec: SpecWriter) -> None:
    with pytest.raises(SpecError, match="not a valid image name") as caught:
        load(str(write_spec('[image]\ntarget = "cpu"\nname = "a..b"\n')))
    assert caught.value.hint is not None and 'e.g. name = "a-b"' in caught.value.hint


def test_parse_toml_names_the_source() -> None:
    with pytest.raises(SpecError, match=r"^somewhere: not valid TOML"):
        parse_toml("[x", "somewhere")


def test_image_spec_is_hashable_and_frozen() -> None:
    spec = ImageSpec(name="x", target="cpu")
    assert hash(spec) == hash(ImageSpec(name="x", target="cpu"))
    with pytest.raises(AttributeError):
        spec.name = "y"  # type: ignore[misc]


def test_schema_describes_every_field() -> None:
    schema = json_schema()
    image = schema["properties"]["image"]
    assert set(image["properties"]) == set(FIELDS)
    assert all(p["description"] for p in image["properties"].values())
    assert image["properties"]["target"]["enum"] == list(FIELDS["target"].choices)
    assert image["properties"]["modalities"]["items"]["enum"] == list(FIELDS["modalities"].choices)
    assert image["additionalProperties"] is False
