"""The serve image's launcher (render/files/serve_launcher.py, /opt/dockyard/serve.py in the image): run-time
settings and their refusals, the API key from env:/file: (never printed), the model id as a folder name,
the server's command line with the KV cache cap, what HAProxy is told, and supervision of two real
processes (either exiting stops the other; SIGTERM drains the gateway first)."""

from __future__ import annotations

import hashlib
import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dockyard.render.blocks.gateway import launcher_config
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

SOURCE = Path(__file__).parents[3] / "src" / "dockyard" / "render" / "files" / "serve_launcher.py"
KEY = "k" * 24


@pytest.fixture(scope="module")
def launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_launcher", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    import json

    path = tmp_path / "serve.toml"
    path.write_text('[image]\nname = "t"\nextends = "cpu-serve"\n[serve]\nmodel = "mount:/models/m"\n')
    plan = resolve(load(str(path)))
    data: dict[str, Any] = json.loads(launcher_config(plan))
    data["models"] = str(tmp_path / "models")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "t").symlink_to(tmp_path)
    defaults = dict(plan.env)
    data["defaults"] = {row["env"]: defaults[row["env"]] for row in data["settings"]}
    return data


def test_defaults_are_the_images_settings(launcher: ModuleType, config: dict[str, Any]) -> None:
    values = launcher.settings(config, config["defaults"])
    assert values == {"name": "t", "device": "cpu", "dtype": "", "quantization": "", "continuous-batching": "true",
                      "cb-memory-percent": "10", "trust-remote-code": "false", "api-key": "", "admin-routes": "false",
                      "warm-up": "true"}
    argv = launcher.server_argv(config, values, (4 * 2**30, 16 * 2**30))
    assert argv == ["transformers", "serve", "--host", "127.0.0.1", "--port", "8001", "t", "--device", "cpu",
                    "--continuous-batching", "--cb-max-memory-percent", "0.0250"], "10% of a 4 GiB limit"


@pytest.mark.parametrize(("variable", "value", "fragment"), [
    ("DOCKYARD_SERVE_CONTINUOUS_BATCHING", "maybe", "is not true or false"),
    ("DOCKYARD_SERVE_DTYPE", "float8", "choose one of auto, bfloat16"),
    ("DOCKYARD_SERVE_NAME", "../etc", "is not a model name"),
    ("DOCKYARD_SERVE_CB_MEMORY_PERCENT", "95", "from 1 to 90"),
])
def test_a_bad_setting_is_refused(launcher: ModuleType, config: dict[str, Any], variable: str, value: str,
                                  fragment: str) -> None:
    with pytest.raises(launcher.Refused, match=fragment):
        launcher.settings(config, {**config["defaults"], variable: value})


def test_settings_override_at_run_time(launcher: ModuleType, config: dict[str, Any]) -> None:
    env = {**config["defaults"], "DOCKYARD_SERVE_CONTINUOUS_BATCHING": "no", "DOCKYARD_SERVE_DTYPE": "bfloat16",
           "DOCKYARD_SERVE_TRUST_REMOTE_CODE": "TRUE"}
    argv = launcher.server_argv(config, launcher.settings(config, env), (1, 1))
    assert argv[6:] == ["t", "--device", "cpu", "--dtype", "bfloat16", "--trust-remote-code"]


def test_the_key_comes_from_a_variable_or_a_file(launcher: ModuleType, tmp_path: Path) -> None:
    assert launcher.read_key("", {}) is None
    assert launcher.read_key("env:API_KEY", {"API_KEY": f" {KEY}\n"}) == KEY
    secret = tmp_path / "key"
    secret.write_text(KEY + "\n")
    assert launcher.read_key(f"file:{secret}", {}) == KEY
    for source, env, fragment in (("env:API_KEY", {}, "is not set"), (f"file:{tmp_path}/none", {}, "cannot read"),
                                  ("env:API_KEY", {"API_KEY": "short"}, "16 or more"),
                                  ("env:API_KEY", {"API_KEY": "has space" * 4}, "not usable")):
        with pytest.raises(launcher.Refused, match=fragment) as caught:
            launcher.read_key(source, env)
        assert "short" not in str(caught.value) and "has space" not in str(caught.value), "the key is never said"


def test_haproxy_gets_the_keys_digest_not_the_key(launcher: ModuleType, config: dict[str, Any]) -> None:
    env = {**config["defaults"], "DOCKYARD_SERVE_KEY_SOURCE": "env:API_KEY", "API_KEY": KEY,
           "DOCKYARD_SERVE_ADMIN_ROUTES": "true"}
    values = launcher.settings(config, env)
    clean = launcher.without_key(env, values["api-key"])
    assert "API_KEY" not in clean
    out = launcher.gateway_env(config, values, launcher.read_key(values["api-key"], env), clean)
    assert out["DOCKYARD_GATEWAY_KEY_SHA256"] == hashlib.sha256(f"Bearer {KEY}".encode()).hexdigest().upper()
    assert KEY not in "".join(out.values())
    assert out["DOCKYARD_GATEWAY_ADMIN_ROUTES"] == "1" and out["DOCKYARD_GATEWAY_STOP_AFTER"] == "25s"
    assert out["DOCKYARD_GATEWAY_WARM_PATH"] == "/v1/completions"
    body = out["DOCKYARD_GATEWAY_WARM_BODY"]
    assert '"model": "t"' in body and '"max_tokens": 1' in body and '"prompt"' in body
    off = launcher.gateway_env(config, {**values, "warm-up": "false", "admin-routes": "false"}, None, clean)
    assert (off["DOCKYARD_GATEWAY_WARM_METHOD"], off["DOCKYARD_GATEWAY_WARM_PATH"]) == ("GET", "/health")
    assert "DOCKYARD_GATEWAY_KEY_SHA256" not in off and "DOCKYARD_GATEWAY_ADMIN_ROUTES" not in off


def test_another_name_links_the_model_under_tmpdir(launcher: ModuleType, config: dict[str, Any],
                                                   tmp_path: Path) -> None:
    assert launcher.model_folder(config, "t", None) == config["models"], "the image's own link"
    folder = launcher.model_folder(config, "acme/chat", str(tmp_path / "tmp"))
    assert (Path(folder) / "acme" / "chat").readlink() == Path(config["model_path"])
    (tmp_path / "file").write_text("")  # no folder can be made under a file, not even by root
    with pytest.raises(launcher.Refused, match="mount a tmpfs on /tmp"):
        launcher.model_folder(config, "other", str(tmp_path / "file"))


def test_a_read_only_tmp_falls_back_to_dev_shm(launcher: ModuleType, tmp_path: Path) -> None:
    assert launcher.writable_tmp({"TMPDIR": str(tmp_path)}) == str(tmp_path)
    assert launcher.writable_tmp({"TMPDIR": str(tmp_path / "missing")}) in ("/tmp", "/dev/shm")


def test_memory_reads_the_cgroup_limit(launcher: ModuleType) -> None:
    files = {"/proc/meminfo": "MemTotal:       16000000 kB\n", "/sys/fs/cgroup/memory.max": "4096000000\n"}
    assert launcher.memory_bytes(lambda path: files.get(path, "")) == (4096000000, 16384000000)
    files["/sys/fs/cgroup/memory.max"] = "max\n"
    assert launcher.memory_bytes(lambda path: files.get(path, "")) == (16384000000, 16384000000)
    assert launcher.cb_memory_fraction("20", "cuda", (1, 1)) == "0.2000", "a GPU's own memory"


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_either_process_exiting_stops_the_other(launcher: ModuleType) -> None:
    server = python("import time; time.sleep(60)")
    gateway = python("import sys, time; time.sleep(0.5); sys.exit(3)")
    started = time.monotonic()
    assert launcher.supervise(server, gateway, 30) == 3
    assert server.poll() is not None and time.monotonic() - started < 20


def test_sigterm_drains_the_gateway_then_stops_the_server(launcher: ModuleType, tmp_path: Path) -> None:
    marker = tmp_path / "order"
    gateway = python("import signal, sys, time\n"
                     "def soft(*_):\n"
                     f"    time.sleep(0.5); open({str(marker)!r}, 'a').write('gateway drained\\n'); sys.exit(0)\n"
                     "signal.signal(signal.SIGUSR1, soft)\n"
                     "time.sleep(60)\n")
    server = python("import signal, sys, time\n"
                    f"signal.signal(signal.SIGTERM, lambda *_: (open({str(marker)!r}, 'a').write('server\\n'), "
                    "sys.exit(0)))\n"
                    "time.sleep(60)\n")
    time.sleep(0.5)  # both installed their handlers
    launcher.DRAINING.append(signal.SIGTERM)
    try:
        assert launcher.supervise(server, gateway, 30) == 0
    finally:
        launcher.DRAINING.clear()
    assert marker.read_text() == "gateway drained\nserver\n"
