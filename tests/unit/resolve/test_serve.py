"""resolve for profile = "serve": the server's command, device, pinned serving extra, what a local model
needs, and every refusal (exit 2 through `dockyard check`, the key named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import EXIT_INVALID
from dockyard.knowledge.serving import serve_knowledge
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from ..conftest import CliRunner

HEAD = '[image]\nname = "t"\nextends = "cpu-serve"\n'


def folder(root: Path, files: dict[str, dict[str, object]] | None = None, **config: object) -> Path:
    name = "tiny"
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", **config}))
    for file, document in (files or {}).items():
        (path / file).write_text(json.dumps(document))
    return path


def write(root: Path, serve: str, image: str = "") -> Path:
    path = root / "serve.toml"
    path.write_text(f"{HEAD}{image}[serve]\n{serve}")
    return path


def plan_of(root: Path, serve: str, image: str = "") -> Plan:
    return resolve(load(str(write(root, serve, image))))


def test_local_model_plan(tmp_path: Path) -> None:
    folder(tmp_path)
    plan = plan_of(tmp_path, 'model = "path:tiny"\n')
    assert plan.serve is not None
    assert plan.cmd == ("python", "/opt/dockyard/serve.py"), "the launcher runs the server and the gateway"
    assert plan.serve.server_command == ("transformers", "serve", "--host", "127.0.0.1", "--port", "8001", "t",
                                         "--device", "cpu", "--continuous-batching"), "on loopback; CB: cpu default"
    assert plan.serve.modalities == ("text",) and plan.serve.model_id == "t", "the image's name names the model"
    assert "haproxy" in plan.system_packages, "the gateway"
    assert "serving" in plan.transformers.extras
    pinned = {p.name: p.version for p in plan.packages}
    for name in serve_knowledge().packages:
        assert pinned[name], f"{name} is pinned"
    assert dict(plan.env)["HF_HUB_OFFLINE"] == "1"
    assert "transformers.cli.serving.server" in plan.imports and "uvicorn" in plan.imports
    expect = plan.expectations()
    assert expect["non_root"] and expect["serve"] == {
        "port": 8000, "health": "/health", "ready": "/ready", "model_id": "t", "model_kind": "path",
        "model_in_image": True, "grace_seconds": 30, "api_key": "", "admin_routes": ["/load_model", "/reset"]}
    env = dict(plan.env)
    assert env["DOCKYARD_SERVE_NAME"] == "t" and env["DOCKYARD_SERVE_CONTINUOUS_BATCHING"] == "true"
    assert env["DOCKYARD_SERVE_CB_MEMORY_PERCENT"] == "10" and env["DOCKYARD_SERVE_KEY_SOURCE"] == ""


def test_every_option_reaches_the_command(tmp_path: Path) -> None:
    folder(tmp_path)
    plan = plan_of(tmp_path, 'model = "path:tiny"\nport = 9000\ndtype = "bfloat16"\nquantization = "bnb-8bit"\n'
                   'continuous-batching = true\ntrust-remote-code = true\ndevice = "auto"\n',
                   'addons = ["bitsandbytes"]\n')
    assert plan.serve is not None
    assert plan.serve.server_command == (
        "transformers", "serve", "--host", "127.0.0.1", "--port", "9001", "t", "--device", "auto", "--dtype",
        "bfloat16", "--quantization", "bnb-8bit", "--continuous-batching", "--trust-remote-code")
    assert (plan.serve.upstream_port, plan.serve.metrics_port) == (9001, 9002)


def test_older_release_spells_the_model_as_an_option(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'model = "mount:/models/m"\n', 'transformers = "5.2.0"\n')
    assert plan.serve is not None
    assert plan.serve.server_command[6:8] == ("--force-model", "t")
    assert set(plan.serve.routes) == {"GET /health", "GET /v1/models", "OPTIONS /v1/models",
                                      "POST /v1/chat/completions", "POST /v1/responses",
                                      "POST /v1/audio/transcriptions"}, "5.2 has no completions"
    assert plan.serve.admin_routes == () and plan.serve.warm_up_route == "POST /v1/chat/completions"
    assert "HF_HUB_OFFLINE" not in dict(plan.env), "a mounted model is not baked in"


def test_device_defaults_follow_the_target() -> None:
    devices = serve_knowledge().devices
    assert (devices["cpu"], devices["cuda"], devices["rocm"], devices["xpu"]) == ("cpu", "cuda", "cuda", "xpu")


def test_an_explicit_cmd_wins(tmp_path: Path) -> None:
    folder(tmp_path)
    plan = plan_of(tmp_path, 'model = "path:tiny"\n', 'cmd = ["python", "app.py"]\n')
    assert plan.cmd == ("python", "app.py")


@pytest.mark.parametrize(("config", "files", "modality", "why"), [
    ({"model_type": "whisper"}, {}, "audio", "model_type whisper"),
    ({"model_type": "vit"}, {}, "vision", "model_type vit"),
    ({"model_type": "llava"}, {}, "vision", "model_type llava"),
    ({}, {"preprocessor_config.json": {"image_processor_type": "CLIPImageProcessor"}}, "vision",
     "image_processor_type in preprocessor_config.json"),
    ({}, {"video_preprocessor_config.json": {}}, "video", "video_preprocessor_config.json"),
])
def test_a_needed_modality_left_out_is_refused(run_cli: CliRunner, tmp_path: Path, config: dict[str, object],
                                               files: dict[str, dict[str, object]], modality: str,
                                               why: str) -> None:
    folder(tmp_path, files, **config)
    result = run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\n'))])
    assert result.code == EXIT_INVALID
    assert "[serve].model" in result.err and f"needs the {modality} modality" in result.err
    assert why in result.err and "[image].modalities" in result.err and "Traceback" not in result.err


def test_needed_modalities_are_shown_by_check(run_cli: CliRunner, tmp_path: Path) -> None:
    folder(tmp_path, model_type="whisper")
    result = run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\n', 'modalities = ["text", "audio"]\n'))])
    assert result.code == 0, result.err
    assert "audio, text" in result.out and "transformers" in result.out and "127.0.0.1:8001" in result.out


@pytest.mark.parametrize(("serve", "image", "key", "fragment"), [
    ('model = "path:tiny"\n', 'torch = "none"\n', "[image].torch", "needs torch"),
    ('model = "path:tiny"\n', 'transformers = "4.57.6"\n', "[image].transformers", "no `transformers serve`"),
    ('model = "path:tiny"\nquantization = "bnb-4bit"\n', "", "[serve].quantization", "bitsandbytes add-on"),
    ('model = "path:tiny"\ndevice = "cuda"\n', "", "[serve].device", "has no cuda device"),
    ('model = "path:empty"\n', "", "[serve].model", "no config.json"),
])
def test_refusals(run_cli: CliRunner, tmp_path: Path, serve: str, image: str, key: str, fragment: str) -> None:
    folder(tmp_path)
    (tmp_path / "empty").mkdir()
    result = run_cli(["check", str(write(tmp_path, serve, image))])
    assert result.code == EXIT_INVALID, result.out
    assert key in result.err and fragment in result.err and "Traceback" not in result.err


def test_device_choices_name_each_device_once(run_cli: CliRunner, tmp_path: Path) -> None:
    """Issue 24: on cpu the target's own device is "cpu"; it is offered once, not as "cpu", "cpu" or "auto"."""
    folder(tmp_path)
    err = " ".join(run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\ndevice = "cuda"\n'))]).err.split())
    assert 'Nearest valid choices: device = "cpu" or "auto"' in err
    gpu = " ".join(run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\ndevice = "xpu"\n',
                                               'target = "cuda"\n'))]).err.split())
    assert 'Nearest valid choices: device = "cuda", "cpu" or "auto"' in gpu


def test_remote_code_needs_consent(run_cli: CliRunner, tmp_path: Path) -> None:
    folder(tmp_path, auto_map={"AutoModelForCausalLM": "modeling_x.XForCausalLM"})
    result = run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\n'))])
    assert result.code == EXIT_INVALID
    assert "[serve].trust-remote-code" in result.err and "auto_map in config.json" in result.err
    result = run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\ntrust-remote-code = true\n'))])
    assert result.code == 0, result.err


def test_hub_model_without_a_commit_is_a_warning(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'model = "hub:org/name@main"\n')
    assert any("[serve].model" in w and "40-hex commit" in w for w in plan.warnings)
    pinned = plan_of(tmp_path, 'model = "hub:org/name@' + "0" * 40 + '"\n')
    assert not any("[serve]" in w for w in pinned.warnings)
    assert any("modalities it needs are not checked" in n for n in pinned.notes)


@pytest.mark.parametrize(("files", "warned"), [
    ({}, True),
    ({"tokenizer_config.json": {"chat_template": "{{ messages }}"}}, False),
    ({"tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast"}}, True),
])
def test_check_warns_about_a_model_without_a_chat_template(run_cli: CliRunner, tmp_path: Path,
                                                          files: dict[str, dict[str, object]], warned: bool) -> None:
    folder(tmp_path, files)
    result = run_cli(["check", str(write(tmp_path, 'model = "path:tiny"\n'))])
    assert result.code == 0, result.err
    assert ("has no chat template" in result.err) is warned, result.err
    if warned:
        assert "/v1/chat/completions will answer 500" in result.err


def test_a_chat_template_file_counts(tmp_path: Path) -> None:
    from dockyard.resolve.serve import has_chat_template

    path = folder(tmp_path)
    assert not has_chat_template({"config.json": path / "config.json"}, {})
    assert has_chat_template({"chat_template.jinja": path / "chat_template.jinja"}, {})
    assert has_chat_template({"additional_chat_templates/tool.jinja": path}, {})
    assert has_chat_template({}, {"processor_config.json": {"chat_template": "{{ messages }}"}})


def test_a_hub_model_with_remote_code_is_a_warning(tmp_path: Path) -> None:
    """Its code is not read before the build: consent alone is not enough to stay silent (issue 21)."""
    plan = plan_of(tmp_path, 'model = "hub:org/name@' + "0" * 40 + '"\ntrust-remote-code = true\n')
    assert any("trust-remote-code = true runs the code" in w for w in plan.warnings)


def test_a_baked_model_leaves_the_download_only_packages_out(tmp_path: Path) -> None:
    """hf-xet only downloads from the Hub; an image whose model lies in it (HF_HUB_OFFLINE=1) removes it
    after the dependency check, and verify's probe checks it is gone (knowledge/serve.toml [baked])."""
    folder(tmp_path)
    plan = plan_of(tmp_path, 'model = "path:tiny"\n')
    assert plan.serve is not None and plan.serve.excluded == ("hf-xet",)
    assert plan.excluded() == ("hf-xet",) and plan.expectations()["excluded"] == ["hf-xet"]
    mounted = plan_of(tmp_path, 'model = "mount:/models/m"\n')
    assert mounted.excluded() == () and "excluded" not in mounted.expectations(), "a mounted model may download"
