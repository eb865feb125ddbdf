"""dockyard's serve launcher: the image's command, under its init (tini). Standard library only.

    python /opt/dockyard/serve.py

Reads the image's settings (DOCKYARD_SERVE_*, whose defaults are the spec's, knowledge/serve.toml
[[setting]]) and /opt/dockyard/serve.json, then runs two processes:
  * `transformers serve` on 127.0.0.1 only, in a folder where the model id clients send names the model;
  * HAProxy on the published port (haproxy.cfg), given the settings it reads as variables: the API key's
    SHA-256 (never the key), whether the admin routes are open, the warm-up request.
When either exits, the other is stopped and the container ends with its status. SIGTERM drains: HAProxy
stops listening and lets running requests finish (at most the grace period less a margin), then the
server stops. Nothing here looks the user up: the image runs under any UID.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

CONFIG = "/opt/dockyard/serve.json"
PREFIX = "dockyard-serve:"
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
CHOICES = {"device": ("cpu", "cuda", "xpu", "hpu", "mps", "npu", "auto"),
           "dtype": ("", "auto", "bfloat16", "float16", "float32"),
           "quantization": ("", "bnb-4bit", "bnb-8bit")}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
KEY = re.compile(r"^[A-Za-z0-9._~+/-]{16,512}=*$")  # RFC 6750 b64token, at least 16 characters
DRAIN_MARGIN = 5  # seconds of the grace period kept for the server to stop after the gateway drained


DRAINING: list[int] = []  # the signal that asked the container to stop


def drain(signum: int, frame: object) -> None:
    DRAINING.append(signum)


class Refused(Exception):
    """A setting the container cannot start with: exit 2 with what is wrong and what to do."""


def settings(config: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """key -> value: the variable if set, else the image's default (DOCKYARD_SERVE_* in its ENV)."""
    values = {}
    for row in config["settings"]:
        value = env.get(row["env"], "").strip()
        key = row["key"]
        if key in ("continuous-batching", "trust-remote-code", "admin-routes", "warm-up"):
            if value.lower() not in (*TRUE, *FALSE):
                raise Refused(f"{row['env']}={value!r} is not true or false")
            value = "true" if value.lower() in TRUE else "false"
        elif key in CHOICES and value not in CHOICES[key]:
            raise Refused(f"{row['env']}={value!r}: choose one of {', '.join(c for c in CHOICES[key] if c)}")
        elif key == "cb-memory-percent":
            if value and not (value.isdigit() and 1 <= int(value) <= 90):
                raise Refused(f"{row['env']}={value!r}: a whole number of percent from 1 to 90")
        elif key == "name":
            value = value or config["name"]
            if not NAME.match(value) or ".." in value:
                raise Refused(f"{row['env']}={value!r} is not a model name (letters, digits, '.', '_', '-', "
                              "optionally ORG/NAME)")
        values[key] = value
    return values


def read_key(source: str, env: dict[str, str]) -> str | None:
    """The API key from "env:NAME" or "file:/PATH"; None when no key is asked for. Never printed."""
    if not source:
        return None
    kind, _, where = source.partition(":")
    if kind == "env":
        key = env.get(where, "").strip()
        if not key:
            raise Refused(f"the API key's variable {where} is not set (DOCKYARD_SERVE_KEY_SOURCE={source})")
    elif kind == "file":
        try:
            with open(where, encoding="utf-8") as handle:
                key = handle.read().strip()
        except OSError as exc:
            raise Refused(f"cannot read the API key file {where}: {exc.strerror or exc} "
                          f"(DOCKYARD_SERVE_KEY_SOURCE={source}); mount the secret there") from None
        if not key:
            raise Refused(f"the API key file {where} is empty")
    else:
        raise Refused(f"DOCKYARD_SERVE_KEY_SOURCE={source!r} is not env:NAME or file:/PATH")
    if not KEY.match(key):
        raise Refused(f"the API key from {source} is not usable: it needs 16 or more of the characters "
                      "A-Z a-z 0-9 . _ ~ + / - (a bearer token); make one with: python -c "
                      "'import secrets; print(secrets.token_urlsafe(32))'")
    return key


def writable_tmp(env: dict[str, str]) -> str | None:
    """A folder for temporary files: TMPDIR, /tmp, or /dev/shm (a tmpfs the engine mounts in every container,
    so a read-only root without a tmpfs on /tmp still has one); None when none is writable."""
    for folder in (env.get("TMPDIR", ""), "/tmp", "/dev/shm"):
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return None


def model_folder(config: dict[str, Any], name: str, tmp: str | None) -> str:
    """A folder where `name` is the model: the image's (made at build time for its default name), else one
    made now under the temporary folder."""
    if os.path.exists(os.path.join(config["models"], name)):
        return str(config["models"])
    folder = os.path.join(tmp or "/tmp", "dockyard-models")
    link = os.path.join(folder, name)
    try:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(config["model_path"], link)
    except OSError as exc:
        raise Refused(f"the model name {name} differs from the image's, and {folder} cannot be written "
                      f"({exc.strerror or exc}): mount a tmpfs on /tmp") from None
    return folder


def memory_bytes(read: Any = None) -> tuple[int, int]:
    """(the container's memory: its cgroup limit, else the host's; the host's), from /sys and /proc."""
    read = read or _read
    host = 0
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            host = int(line.split()[1]) * 1024
    limit = host
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = read(path).strip()
        if text.isdigit():
            limit = min(limit, int(text)) if limit else int(text)
            break
    return limit, host


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return ""


def cb_memory_fraction(percent: str, device: str, memory: tuple[int, int]) -> str:
    """transformers' --cb-max-memory-percent (a fraction of the host's memory on CPU, of the device's on a
    GPU) for `percent` of the container's memory."""
    share = int(percent) / 100
    if device == "cpu":
        limit, host = memory
        share = share * limit / host if host else share
    return f"{min(share, 0.9):.4f}"


def server_argv(config: dict[str, Any], values: dict[str, str], memory: tuple[int, int] | None = None) -> list[str]:
    argv = list(config["server"])
    argv += [config["model_option"], values["name"]] if config["model_option"] else [values["name"]]
    for row in config["settings"]:
        flag, value = row["flag"], values[row["key"]]
        if not flag or value in ("", "false"):
            continue
        argv += [flag] if value == "true" else [flag, value]
    percent = values.get("cb-memory-percent", "")
    if values.get("continuous-batching") == "true" and percent and config.get("cb_memory_option"):
        argv += [config["cb_memory_option"], cb_memory_fraction(percent, values["device"], memory or memory_bytes())]
    return argv


def gateway_env(config: dict[str, Any], values: dict[str, str], key: str | None,
                env: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if not k.startswith("DOCKYARD_GATEWAY_")}
    grace = int(config["grace_seconds"])
    out.update({
        "DOCKYARD_GATEWAY_STOP_AFTER": f"{max(1, grace - DRAIN_MARGIN)}s",
        "DOCKYARD_GATEWAY_UPSTREAM": config["upstream"],
        "DOCKYARD_GATEWAY_EXPORTER": config["metrics"],
        "DOCKYARD_GATEWAY_BUCKETS": ",".join(str(b) for b in config["buckets"]),
    })
    warm = config["warm_up"] if values["warm-up"] == "true" else {"method": "GET", "path": config["health"]}
    out["DOCKYARD_GATEWAY_WARM_METHOD"] = warm["method"]
    out["DOCKYARD_GATEWAY_WARM_PATH"] = warm["path"]
    if warm["method"] == "POST":
        body: dict[str, Any] = {"model": values["name"], "max_tokens": 1}
        if warm["path"].endswith("/completions") and "chat" not in warm["path"]:
            body["prompt"] = "Hello"
        else:
            body["messages"] = [{"role": "user", "content": "Hello"}]
        out["DOCKYARD_GATEWAY_WARM_BODY"] = json.dumps(body)
    if values["admin-routes"] == "true":
        out["DOCKYARD_GATEWAY_ADMIN_ROUTES"] = "1"
    if key is not None:
        out["DOCKYARD_GATEWAY_KEY_SHA256"] = hashlib.sha256(f"Bearer {key}".encode()).hexdigest().upper()
    return out


def without_key(env: dict[str, str], source: str) -> dict[str, str]:
    """The environment minus the variable that holds the key: neither process needs it."""
    kind, _, name = source.partition(":")
    return {k: v for k, v in env.items() if not (kind == "env" and k == name)}


def say(message: str) -> None:
    print(f"{PREFIX} {message}", file=sys.stderr, flush=True)


def supervise(server: subprocess.Popen[bytes], gateway: subprocess.Popen[bytes], grace: int) -> int:
    """Wait until one exits (or SIGTERM), stop the other; the exit status of the container."""
    while not DRAINING:
        for name, process, other in (("the server", server, gateway), ("the gateway", gateway, server)):
            code = process.poll()
            if code is not None:
                say(f"{name} exited with status {code}; stopping the other")
                stop(other, signal.SIGTERM, 5)
                return code or 1
        time.sleep(0.2)
    budget = max(1, grace - DRAIN_MARGIN)
    say(f"stopping: the gateway finishes running requests (at most {budget}s)")
    deadline = time.monotonic() + budget
    gateway.send_signal(signal.SIGUSR1)  # HAProxy's soft stop: close the listener, finish what runs
    while gateway.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    stop(gateway, signal.SIGTERM, 0.5)  # past its own hard-stop-after (the same budget): it is leaving
    stop(server, signal.SIGTERM, DRAIN_MARGIN - 1.5)  # nothing runs any more; the engine kills at the grace
    return 0


def stop(process: subprocess.Popen[bytes], signum: int, wait: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    with open(CONFIG, encoding="utf-8") as handle:
        config = json.load(handle)
    env = dict(os.environ)
    tmp = writable_tmp(env)
    try:
        values = settings(config, env)
        key = read_key(values["api-key"], env)
        folder = model_folder(config, values["name"], tmp)
        if tmp is None:
            raise Refused("no writable folder for temporary files (TMPDIR, /tmp, /dev/shm), which torch needs: "
                          "mount a tmpfs on /tmp")
    except Refused as exc:
        say(f"cannot start: {exc}")
        return 2
    if tmp != env.get("TMPDIR", "/tmp"):
        say(f"/tmp is not writable: temporary files go to {tmp}")
    clean = {**without_key(env, values["api-key"]), "TMPDIR": tmp}
    argv = server_argv(config, values)
    say(f"server: {' '.join(argv)} (in {folder}, on {config['upstream']} only); gateway: API key "
        f"{'required' if key else 'off'}, admin routes {'open' if values['admin-routes'] == 'true' else 'closed'}, "
        f"warm-up {'on' if values['warm-up'] == 'true' else 'off'}")
    server = subprocess.Popen(argv, cwd=folder, env=clean)
    gateway = subprocess.Popen(config["gateway"], env=gateway_env(config, values, key, clean))
    return supervise(server, gateway, int(config["grace_seconds"]))


if __name__ == "__main__":
    sys.exit(main())
