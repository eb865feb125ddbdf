"""The [serve] table and profile = "serve": parsing, and every refusal with exit 2 and the key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import EXIT_INVALID
from dockyard.spec.fields import PROFILES, json_schema
from dockyard.spec.model import load
from dockyard.spec.serve import BAKED_MODEL_PATH, HEALTH_PATH, ServeModel

from ..conftest import CliRunner

HEAD = '[image]\nname = "t"\nextends = "cpu-serve"\n'


def model_folder(root: Path, name: str = "tiny", **config: object) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    document = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], **config}
    (folder / "config.json").write_text(json.dumps(document))
    return folder


def spec_file(root: Path, serve: str, head: str = HEAD) -> Path:
    path = root / "serve.toml"
    path.write_text(f"{head}[serve]\n{serve}")
    return path


def test_six_line_spec_with_a_local_model(tmp_path: Path) -> None:
    model_folder(tmp_path)
    spec = load(str(spec_file(tmp_path, 'model = "path:tiny"\n')))
    assert spec.profile == "serve" and "serve" in PROFILES
    assert spec.serve is not None
    assert spec.serve.model == ServeModel("path", "tiny", path=(tmp_path / "tiny").resolve(), root=tmp_path.resolve())
    assert spec.serve.model.container_path == BAKED_MODEL_PATH
    assert (spec.serve.port, spec.serve.device, spec.serve.grace_seconds) == (8000, None, 30)
    assert HEALTH_PATH == "/health"


def test_every_key_parsed(tmp_path: Path) -> None:
    spec = load(str(spec_file(tmp_path, 'model = "hub:org/name@' + "a" * 40 + '"\nport = 9000\ndevice = "cpu"\n'
                              'dtype = "float32"\ncontinuous-batching = true\ntrust-remote-code = true\n'
                              "grace-seconds = 5\n")))
    serve = spec.serve
    assert serve is not None
    assert (serve.model.kind, serve.model.ref, serve.model.revision) == ("hub", "org/name", "a" * 40)
    assert serve.model.pinned and serve.model.container_path == BAKED_MODEL_PATH
    assert (serve.port, serve.device, serve.dtype, serve.continuous_batching, serve.trust_remote_code,
            serve.grace_seconds) == (9000, "cpu", "float32", True, True, 5)
    mount = load(str(spec_file(tmp_path, 'model = "mount:/models/llama"\n'))).serve
    assert mount is not None and mount.model.container_path == "/models/llama" and not mount.model.baked


def test_digest_does_not_depend_on_where_the_spec_lies(tmp_path: Path) -> None:
    digests = []
    for folder in (tmp_path / "a", tmp_path / "b"):
        model_folder(folder)
        digests.append(load(str(spec_file(folder, 'model = "path:tiny"\n'))).digest())
    assert digests[0] == digests[1]
    other = tmp_path / "c"
    model_folder(other, "other")
    assert load(str(spec_file(other, 'model = "path:other"\n'))).digest() != digests[0]


@pytest.mark.parametrize(("serve", "key", "fragment"), [
    ('model = "path:missing"\n', "[serve].model", "no such folder"),
    ('model = "tiny"\n', "[serve].model", "not a model reference"),
    ('model = "hub:just-a-name"\n', "[serve].model", "not a Hub repository"),
    ('model = "mount:models/x"\n', "[serve].model", "absolute path"),
    ('model = "path:tiny"\nport = 70000\n', "[serve].port", "out of range"),
    ('model = "path:tiny"\nport = 0\n', "[serve].port", "out of range"),
    ('model = "path:tiny"\nport = "8000"\n', "[serve].port", "whole number"),
    ('model = "path:tiny"\ndevice = "gpu"\n', "[serve].device", "unknown value"),
    ('model = "path:tiny"\nquantization = "int4"\n', "[serve].quantization", "bnb-4bit"),
    ('model = "path:tiny"\ngrace-seconds = 0\n', "[serve].grace-seconds", "out of range"),
    ('model = "path:tiny"\nmodle = "x"\n', "[serve].modle", "unknown key"),
    ('port = 8000\n', "[serve].model", "required"),
    ('model = "path:tiny"\nname = "../etc"\n', "[serve].name", "not a model name"),
    ('model = "path:tiny"\nname = "a:b"\n', "[serve].name", "not a model name"),
    ('model = "path:tiny"\napi-key = "env:DOCKYARD_SERVE_X"\n', "[serve].api-key", "the image's own settings"),
    ('model = "path:tiny"\napi-key = "file:relative"\n', "[serve].api-key", "file: names no absolute path"),
    ('model = "path:tiny"\napi-key = "env:1BAD"\n', "[serve].api-key", "env: names no variable"),
    ('model = "path:tiny"\ncb-memory-percent = 95\n', "[serve].cb-memory-percent", "out of range"),
    ('model = "path:tiny"\nadmin-routes = "yes"\n', "[serve].admin-routes", "true or false"),
    ('model = "path:tiny"\nfetch = "start"\n', "[serve].fetch", "only a hub: model is downloaded"),
    ('model = "hub:org/m@main"\nfetch = "later"\n', "[serve].fetch", "unknown value"),
])
def test_refused_with_exit_2_and_the_key(run_cli: CliRunner, tmp_path: Path, serve: str, key: str,
                                         fragment: str) -> None:
    model_folder(tmp_path)
    result = run_cli(["check", str(spec_file(tmp_path, serve))])
    assert result.code == EXIT_INVALID
    assert key in result.err and fragment in result.err
    assert "Traceback" not in result.err


def test_profile_and_table_go_together(run_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('[image]\ntarget = "cpu"\nprofile = "serve"\n')
    result = run_cli(["check", str(path)])
    assert result.code == EXIT_INVALID and "needs a [serve] table" in result.err
    path.write_text('[image]\ntarget = "cpu"\n[serve]\nmodel = "mount:/models/x"\n')
    result = run_cli(["check", str(path)])
    assert result.code == EXIT_INVALID and 'needs profile = "serve"' in result.err


def test_schema_knows_the_profile() -> None:
    schema = json_schema()
    assert "serve" in schema["properties"]["image"]["properties"]["profile"]["enum"]
    serve = schema["properties"]["serve"]
    assert serve["required"] == ["model"] and serve["properties"]["port"]["maximum"] == 65535


def test_the_new_keys_are_parsed_and_kept_in_the_digest(tmp_path: Path) -> None:
    model_folder(tmp_path)
    spec = load(str(spec_file(tmp_path, 'model = "path:tiny"\nname = "acme/chat-1"\napi-key = "env:API_KEY"\n'
                                        'admin-routes = true\nwarm-up = false\ncb-memory-percent = 20\n'
                                        'continuous-batching = false\n')))
    serve = spec.serve
    assert serve is not None
    assert (serve.name, serve.api_key, serve.admin_routes, serve.warm_up, serve.cb_memory_percent,
            serve.continuous_batching) == ("acme/chat-1", "env:API_KEY", True, False, 20, False)
    assert serve.to_toml_dict() == {"model": "path:tiny", "name": "acme/chat-1", "api-key": "env:API_KEY",
                                    "admin-routes": True, "warm-up": False, "cb-memory-percent": 20,
                                    "continuous-batching": False}
    plain = load(str(spec_file(tmp_path, 'model = "path:tiny"\n'))).serve
    assert plain is not None and plain.continuous_batching is None, "unset: the target's measured default"


@pytest.mark.parametrize("value", ["sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "hunter2hunter2hunter2",
                                   "Bearer abcdefghijklmnop"])
def test_a_key_in_the_spec_is_refused_without_repeating_it(run_cli: CliRunner, tmp_path: Path, value: str) -> None:
    model_folder(tmp_path)
    result = run_cli(["check", str(spec_file(tmp_path, f'model = "path:tiny"\napi-key = "{value}"\n'))])
    assert result.code == EXIT_INVALID and "[serve].api-key" in result.err
    assert value not in result.err and value[:8] not in result.err, "the key is never repeated"
    assert "env:API_KEY" in result.err and "dockyard up --api-key" in result.err


@pytest.mark.parametrize(("item", "expected"), [
    ("dtype=bfloat16", ("dtype", "bfloat16")), ("continuous-batching=False", ("continuous-batching", "false")),
    ("name=acme/chat", ("name", "acme/chat")), ("api-key=env:API_KEY", ("api-key", "env:API_KEY")),
    ("cb-memory-percent=20", ("cb-memory-percent", "20")), ("quantization=", ("quantization", "")),
])
def test_run_time_settings(item: str, expected: tuple[str, str]) -> None:
    from dockyard.spec.serve import check_setting

    assert check_setting(item) == expected


@pytest.mark.parametrize(("item", "fragment"), [
    ("port=9000", "not a run-time setting"), ("dtyp=float32", 'did you mean "dtype"'),
    ("dtype=float8", "unknown value"), ("warm-up=maybe", "not true or false"),
    ("cb-memory-percent=0", "1 to 90"), ("api-key=sk-abcdefghijklmnopqrstuvwxyz", "not env:NAME or file:/PATH"),
    ("name=..", "not a model name"), ("dtype", "not a run-time setting"),
])
def test_run_time_settings_refused(item: str, fragment: str) -> None:
    from dockyard.errors import SpecError
    from dockyard.spec.serve import check_setting

    with pytest.raises(SpecError) as caught:
        check_setting(item)
    assert fragment in str(caught.value) + str(caught.value.hint)
    assert "abcdefghijklmnop" not in str(caught.value), "a key is never repeated"


def test_run_time_settings_are_the_knowledge_rows() -> None:
    from dockyard.knowledge.serving import serve_knowledge
    from dockyard.spec.serve import RUN_TIME

    assert set(RUN_TIME) == {row.key for row in serve_knowledge().settings}


def test_extending_the_preset_needs_a_serve_table_of_its_own(run_cli: CliRunner, tmp_path: Path) -> None:
    """Issue 24: cpu-serve's mount:/models/model is a placeholder; a spec that extends the preset without
    [serve] is refused (exit 2) instead of silently serving /models/model."""
    path = tmp_path / "mine.toml"
    path.write_text(HEAD)
    result = run_cli(["check", str(path)])
    assert result.code == EXIT_INVALID
    assert 'needs a [serve] table naming the model (extends = "cpu-serve" is a preset' in result.err
    assert "mount:/models/NAME" in result.err and "Traceback" not in result.err


def test_a_spec_file_passes_its_serve_table_to_specs_that_extend_it(tmp_path: Path) -> None:
    (tmp_path / "chat.toml").write_text(f'{HEAD}[serve]\nmodel = "mount:/models/chat"\nport = 9000\n')
    (tmp_path / "more.toml").write_text('[image]\nname = "more"\nextends = "chat.toml"\npackages = ["requests"]\n')
    spec = load(str(tmp_path / "more.toml"))
    assert spec.serve is not None and spec.serve.model == ServeModel("mount", "/models/chat")
    assert spec.serve.port == 9000, "inherited whole"


def test_fetch_at_start_is_part_of_the_digest(tmp_path: Path) -> None:
    baked = load(str(spec_file(tmp_path, 'model = "hub:org/m@main"\n')))
    started = load(str(spec_file(tmp_path, 'model = "hub:org/m@main"\nfetch = "start"\n')))
    assert baked.serve is not None and started.serve is not None
    assert baked.serve.model.baked and not baked.serve.model.fetched_at_start
    assert started.serve.model.fetched_at_start and not started.serve.model.baked
    assert started.serve.model.container_path == "/opt/model"
    assert started.digest() != baked.digest() and started.serve.to_toml_dict()["fetch"] == "start"
