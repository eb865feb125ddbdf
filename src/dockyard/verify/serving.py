"""Verify a serve image by running it: start it the way it is meant to run (the image's user, a read-only
root, tmpfs /tmp, offline, an API key), then, inside the container with the image's own Python, ask the
gateway: /health, /ready (after the warm-up), the model list, that a request without the key gets 401 and
an admin route 404, one chat completion, and that /metrics counted it. Nothing is published on the host.
`dockyard up` runs the same client in the container it started. When the server fails, the check names
its own error from the log (the exception line, not the stack around it).
"""

from __future__ import annotations

import re
import secrets
import subprocess
from typing import Any

from dockyard.engine.backends import Backend, gpu_run_options
from dockyard.verify.report import last_json

VERIFY_KEY_ENV = "DOCKYARD_VERIFY_KEY"

# Runs inside the container (standard library only): every answer becomes a check. The model id, the key's
# source and whether the admin routes are open come from the container's own settings (DOCKYARD_SERVE_*).
CLIENT = r"""
import json, os, re, sys, time, urllib.error, urllib.request
port, health, ready, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
admin_paths = [p for p in sys.argv[5].split(",") if p]
base = "http://127.0.0.1:%d" % port
model = os.environ.get("DOCKYARD_SERVE_NAME", "")
admin_open = os.environ.get("DOCKYARD_SERVE_ADMIN_ROUTES", "false").lower() in ("true", "1", "yes", "on")
source = os.environ.get("DOCKYARD_SERVE_KEY_SOURCE", "")
key = None
if source.startswith("env:"):
    key = os.environ.get(source[4:], "").strip() or None
elif source.startswith("file:"):
    try:
        key = open(source[5:], encoding="utf-8").read().strip() or None
    except OSError:
        key = None
results = []
def record(name, ok, expected=None, actual=None, detail=""):
    results.append({"name": name, "ok": bool(ok), "expected": expected, "actual": actual, "detail": detail})
def call(path, body=None, auth=True, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if auth and key:
        headers["Authorization"] = "Bearer " + key
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            text = response.read()
            return response.status, (text.decode() if raw else json.loads(text or b"null"))
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:600]
def wait(path, limit):
    start, last = time.time(), ""
    while time.time() - start < limit:
        try:
            status, _ = call(path, auth=False, raw=True)
            if status == 200:
                return 200, time.time() - start, ""
            last = "HTTP %s" % status
        except Exception as exc:
            last = "%s: %s" % (type(exc).__name__, exc)
        time.sleep(0.5)
    return None, time.time() - start, last
def counters():
    status, text = call("/metrics", auth=False, raw=True)
    found = {}
    if status == 200:
        for line in text.splitlines():
            m = re.match(r'^(haproxy_backend_http_responses_total|dockyard_request_duration_seconds_count)'
                         r'\{([^}]*)\} ([0-9.eE+-]+)$', line)
            labels = m.group(2) if m else ""
            if m and 'proxy="api_chat_completions"' in labels and ("code=" not in labels or 'code="2xx"' in labels):
                found[m.group(1)] = float(m.group(3))
    return status, found
status, seconds, error = wait(health, timeout)
record("server health", status == 200, 200, status,
       "answered after %.1f s" % seconds if status else "no answer in %d s: %s" % (timeout, error))
if status == 200:
    status, seconds, error = wait(ready, timeout)
    record("server ready", status == 200, 200, status,
           "ready (warm-up done) after %.1f s more" % seconds if status else "not ready in %d s: %s" % (timeout, error))
if status == 200:
    try:
        code, listing = call("/v1/models")
        ids = [m.get("id") for m in listing.get("data", [])] if isinstance(listing, dict) else listing
        record("server model list", model in ids, model, ids)
        if key:
            code, _ = call("/v1/models", auth=False)
            record("gateway refuses a request without the API key", code == 401, 401, code)
        if not admin_open:
            for path in admin_paths:
                code, _ = call(path, {}, auth=True)
                record("gateway hides %s" % path, code == 404, 404, code)
        _, before = counters()
        code, chat = call("/v1/chat/completions", {"model": model, "max_tokens": 8,
                                                   "messages": [{"role": "user", "content": "Hello"}]})
        if code == 200:
            choice = (chat.get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content")
            record("server chat completion", isinstance(content, str) and bool(choice.get("finish_reason")),
                   "a message and a finish_reason", {"finish_reason": choice.get("finish_reason"),
                                                      "characters": len(content or "")})
        else:
            record("server chat completion", False, 200, code, "the server answered %s: %s" % (code, chat))
        code, after = counters()
        moved = [name for name in sorted(after) if after[name] >= before.get(name, 0) + 1]
        record("gateway metrics count the chat request", code == 200 and len(moved) == 2,
               ["haproxy_backend_http_responses_total", "dockyard_request_duration_seconds_count"], moved,
               "" if code == 200 else "/metrics answered %s" % code)
    except Exception as exc:
        record("server endpoints", False, detail="%s: %s" % (type(exc).__name__, exc))
print(json.dumps({"checks": results}))
"""

# The line a Python server logs for the exception that failed a request: `ValueError: ...`, after its stack.
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit)): (.+)$")


def server_error(log: str) -> str:
    """The last exception a server's log names (`ValueError: ... chat_template is not set`), "" if none."""
    found = [m for line in log.splitlines() if (m := EXCEPTION_LINE.match(line.strip()))]
    return f"{found[-1].group(1)}: {found[-1].group(2).strip()}"[:600] if found else ""


def client_argv(client: str, container: str, expect: dict[str, Any], timeout: int) -> list[str]:
    """`exec` the checking client in a running serve container."""
    return [client, "exec", container, "python", "-c", CLIENT, str(expect["port"]), expect["health"],
            expect.get("ready", expect["health"]), str(timeout), ",".join(expect.get("admin_routes", []))]


def server_options(expect: dict[str, Any], backend: Backend, gpu: bool, name: str) -> list[str]:
    home = "/root" if expect.get("user") == "root" else f"/home/{expect.get('user', 'dockyard')}"
    options = ["-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--volume", f"{home}/.cache/huggingface",
               "--env", "HF_HUB_OFFLINE=1",
               # a throwaway key, so the checks see the gateway refuse a request without it
               "--env", f"{VERIFY_KEY_ENV}={secrets.token_urlsafe(24)}",
               "--env", f"DOCKYARD_SERVE_KEY_SOURCE=env:{VERIFY_KEY_ENV}"]
    if gpu:
        family = {"cuda": "cuda", "rocm": "rocm", "xpu": "xpu"}.get(expect.get("torch_build", ""), "")
        options += gpu_run_options(backend.engine, family)
    return options


def run_client(client: str, container: str, expect: dict[str, Any], timeout: int) -> list[dict[str, Any]]:
    """The client's checks; a failed one carries the server's own error and the log's tail."""
    done = subprocess.run(client_argv(client, container, expect, timeout), capture_output=True, text=True,
                          timeout=2 * timeout + 300)
    payload = last_json(done.stdout)
    if payload is not None and all(c["ok"] for c in payload["checks"]):
        checks: list[dict[str, Any]] = payload["checks"]
        return checks
    logs = subprocess.run([client, "logs", "--tail", "60", container], capture_output=True, text=True, timeout=60)
    log = logs.stdout + logs.stderr
    cause = server_error(log)
    tail = "\n".join(log.strip().splitlines()[-12:])[-1500:]
    if payload is None:
        return [_failure("server checks", f"the client did not answer (exit {done.returncode}): "
                         f"{done.stderr.strip()[-400:]}; server log: {tail}")]
    for check in payload["checks"]:
        if not check["ok"]:
            said = f"the server's error: {cause}" if cause else f"server log: {tail}"
            check["detail"] = f"{check['detail']}; {said}".strip("; ")
    result: list[dict[str, Any]] = payload["checks"]
    return result


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
        return run_client(client, name, serve, timeout)
    except subprocess.TimeoutExpired:
        return [_failure("server checks", f"no answer within {2 * timeout + 300} s")]
    finally:
        subprocess.run([client, "rm", "--force", name], capture_output=True, timeout=120)


def _failure(name: str, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": False, "expected": None, "actual": None, "detail": detail}
