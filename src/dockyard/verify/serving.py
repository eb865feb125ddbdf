"""Verify a serve image by running it: start the server the way it is meant to run (the image's user, a
read-only root, tmpfs /tmp, offline), then, inside the container with the image's own Python, wait for
the health endpoint, list the models and ask for one chat completion. Nothing is published on the host.
"""

from __future__ import annotations

import secrets
import subprocess
from typing import Any

from dockyard.engine.backends import Backend, gpu_run_options
from dockyard.verify.report import last_json

# Runs inside the container (standard library only): every answer becomes a check.
CLIENT = r"""
import json, sys, time, urllib.request
port, health, model, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
base = "http://127.0.0.1:%d" % port
results = []
def record(name, ok, expected=None, actual=None, detail=""):
    results.append({"name": name, "ok": bool(ok), "expected": expected, "actual": actual, "detail": detail})
def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read() or b"null")
start, error = time.time(), ""
while True:
    try:
        status, _ = call(health)
        break
    except Exception as exc:
        error = "%s: %s" % (type(exc).__name__, exc)
        if time.time() - start > timeout:
            status = None
            break
        time.sleep(0.5)
record("server health", status == 200, 200, status,
       "answered after %.1f s" % (time.time() - start) if status else "no answer in %d s: %s" % (timeout, error))
if status == 200:
    try:
        _, listing = call("/v1/models")
        ids = [m.get("id") for m in listing.get("data", [])]
        record("server model list", model in ids, model, ids)
        _, chat = call("/v1/chat/completions", {"model": model, "max_tokens": 8,
                                                "messages": [{"role": "user", "content": "Hello"}]})
        choice = (chat.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content")
        record("server chat completion", isinstance(content, str) and bool(choice.get("finish_reason")),
               "a message and a finish_reason", {"finish_reason": choice.get("finish_reason"),
                                                  "characters": len(content or "")})
    except Exception as exc:
        record("server endpoints", False, detail="%s: %s" % (type(exc).__name__, exc))
print(json.dumps({"checks": results}))
"""


def server_options(expect: dict[str, Any], backend: Backend, gpu: bool, name: str) -> list[str]:
    home = "/root" if expect.get("user") == "root" else f"/home/{expect.get('user', 'dockyard')}"
    options = ["-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--volume", f"{home}/.cache/huggingface",
               "--env", "HF_HUB_OFFLINE=1"]
    if gpu:
        family = {"cuda": "cuda", "rocm": "rocm", "xpu": "xpu"}.get(expect.get("torch_build", ""), "")
        options += gpu_run_options(backend.engine, family)
    return options


def check_server(backend: Backend, image: str, expect: dict[str, Any], gpu: bool = False,
                 timeout: int = 240) -> list[dict[str, Any]]:
    """The server's checks as probe results; [] for an image without a model (mount: models, hub: models
    fetched at start)."""
    serve = expect.get("serve")
    if not serve or serve.get("model_kind") == "mount" or serve.get("model_in_image") is False:
        return []
    client = backend.engine.client
    name = f"dockyard-verify-{secrets.token_hex(4)}"
    started = subprocess.run(backend.run_argv(image, [], server_options(expect, backend, gpu, name)),
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        return [_failure("server start", (started.stderr or started.stdout).strip()[-800:])]
    try:
        argv = [client, "exec", name, "python", "-c", CLIENT, str(serve["port"]), serve["health"],
                serve["model_id"], str(timeout)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 300)
        payload = last_json(done.stdout)
        if payload is None or not all(c["ok"] for c in payload["checks"]):
            logs = subprocess.run([client, "logs", "--tail", "20", name], capture_output=True, text=True,
                                  timeout=60)
            tail = (logs.stdout + logs.stderr).strip()[-1500:]
            if payload is None:
                return [_failure("server checks", f"the client did not answer (exit {done.returncode}): "
                                 f"{done.stderr.strip()[-400:]}; server log: {tail}")]
            for check in payload["checks"]:
                if not check["ok"]:
                    check["detail"] = f"{check['detail']}; server log: {tail}".strip("; ")
        checks: list[dict[str, Any]] = payload["checks"]
        return checks
    except subprocess.TimeoutExpired:
        return [_failure("server checks", f"no answer within {timeout + 300} s")]
    finally:
        subprocess.run([client, "rm", "--force", name], capture_output=True, timeout=120)


def _failure(name: str, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": False, "expected": None, "actual": None, "detail": detail}
