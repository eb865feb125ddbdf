"""The serve image's gateway and run-time settings, measured (issue 22; run by `bench/serve.py --part gateway`).

Same image, same container, same run. The client runs inside the container (the image's own Python), so
both paths below cost the same client and neither goes through the engine's port forwarding:
  * overhead: GET /v1/models (no generation: the proxy's own cost stands out) and chat completions under a
    load of --overhead-clients, through the gateway (127.0.0.1:8000) against the server reached directly
    (127.0.0.1:8001), in alternating blocks; p50 latency added (target <= 1 ms) and throughput (>= 0.97x);
  * growth: the gateway's share of the image, against the cpu-inference image built in the same run (the
    same base stage without HAProxy): the apt layer's difference plus the gateway's own files (<= 15 MB);
  * concurrency: throughput, p50 latency and first-token latency (streamed) at 1, 8 and 32 concurrent
    requests with continuous batching on and off (a run-time setting: one image), alternating the order;
  * warm-up: the first chat request after /health without the warm-up against after /ready with it, fresh
    containers alternating.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Callable
from typing import Any

GATEWAY, DIRECT = 8000, 8001
CONCURRENCY = (1, 8, 32)

# Runs inside the container: `python -c CLIENT MODE ...`; prints one JSON line.
CLIENT = r"""
import json, sys, threading, time, urllib.request
mode, port, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = "http://127.0.0.1:%d" % port
def chat(stream=False, tokens=16):
    body = json.dumps({"model": model, "max_tokens": tokens, "stream": stream,
                       "messages": [{"role": "user", "content": "Hello, how are you today?"}]}).encode()
    request = urllib.request.Request(base + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    started = time.perf_counter()
    first = None
    with urllib.request.urlopen(request, timeout=600) as response:
        if not stream:
            response.read()
        else:
            for raw in response:
                line = raw.decode().strip()
                if first is None and line.startswith("data:") and '"content"' in line:
                    first = time.perf_counter() - started
    return time.perf_counter() - started, first
if mode == "models":
    count = int(sys.argv[4])
    out = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(base + "/v1/models", timeout=60) as response:
            response.read()
        out.append(time.perf_counter() - started)
    print(json.dumps({"latencies": out}))
elif mode == "load":
    clients, total, stream = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "stream"
    latencies, firsts, errors, lock = [], [], [], threading.Lock()
    left = [total]
    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                whole, first = chat(stream)
                with lock:
                    latencies.append(whole)
                    if first is not None:
                        firsts.append(first)
            except Exception as exc:
                with lock:
                    errors.append(str(exc)[:200])
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "latencies": latencies, "firsts": firsts, "errors": errors}))
elif mode == "first":
    whole, _ = chat(False, 8)
    print(json.dumps({"seconds": whole}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


class GatewayBench:
    """`docker(*args, check=True)` runs the engine client; `image` is the dockyard serve image."""

    def __init__(self, docker: Callable[..., subprocess.CompletedProcess[str]], image: str, model: str,
                 prefix: str) -> None:
        self.docker, self.image, self.model, self.prefix = docker, image, model, prefix

    def run(self, name: str, *env: str) -> str:
        self.docker("rm", "--force", name, check=False)
        flags = [arg for pair in env for arg in ("--env", pair)]
        self.docker("run", "--detach", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                    *flags, self.image)
        return name

    def client(self, name: str, *args: str) -> dict[str, Any]:
        done = self.docker("exec", name, "python", "-c", CLIENT, *args)
        data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return data

    def wait(self, name: str, path: str, timeout: float = 900) -> float:
        """Seconds until `path` answers 200 through the gateway (polled inside the container)."""
        code = ("import sys, time, urllib.request\n"
                "start = time.time()\n"
                f"while time.time() - start < {timeout}:\n"
                "    try:\n"
                f"        urllib.request.urlopen('http://127.0.0.1:{GATEWAY}{path}', timeout=5); "
                "print(time.time() - start); sys.exit(0)\n"
                "    except Exception: time.sleep(0.1)\n"
                "sys.exit(1)\n")
        done = self.docker("exec", name, "python", "-c", code, check=False)
        if done.returncode != 0:
            logs = self.docker("logs", "--tail", "30", name, check=False)
            raise SystemExit(f"{name}: {path} never answered:\n{logs.stdout}{logs.stderr}")
        return float(done.stdout.strip())

    # -- the measurements --------------------------------------------------------------------------------

    def overhead(self, rounds: int, models: int, clients: int, requests: int) -> dict[str, Any]:
        name = self.run(f"{self.prefix}-overhead", "DOCKYARD_SERVE_CB_MEMORY_PERCENT=4")
        try:
            self.wait(name, "/ready")
            latency: dict[int, list[float]] = {GATEWAY: [], DIRECT: []}
            rps: dict[int, list[float]] = {GATEWAY: [], DIRECT: []}
            chat_p50: dict[int, list[float]] = {GATEWAY: [], DIRECT: []}
            for round_ in range(rounds):
                for port in (GATEWAY, DIRECT) if round_ % 2 == 0 else (DIRECT, GATEWAY):
                    latency[port] += self.client(name, "models", str(port), self.model, str(models))["latencies"]
                    load = self.client(name, "load", str(port), self.model, str(clients), str(requests), "plain")
                    rps[port].append(len(load["latencies"]) / load["seconds"])
                    chat_p50[port].append(statistics.median(load["latencies"]))
            p50 = {port: statistics.median(values) for port, values in latency.items()}
            return {
                "models_p50_ms": {"gateway": p50[GATEWAY] * 1000, "direct": p50[DIRECT] * 1000},
                "p50_added_ms": (p50[GATEWAY] - p50[DIRECT]) * 1000,
                "requests_per_second": {"gateway": statistics.median(rps[GATEWAY]),
                                        "direct": statistics.median(rps[DIRECT])},
                "throughput_ratio": statistics.median(rps[GATEWAY]) / statistics.median(rps[DIRECT]),
                "chat_p50_ms": {"gateway": statistics.median(chat_p50[GATEWAY]) * 1000,
                                "direct": statistics.median(chat_p50[DIRECT]) * 1000},
                "rounds_rps": {"gateway": [round(v, 2) for v in rps[GATEWAY]],
                               "direct": [round(v, 2) for v in rps[DIRECT]]},
                "samples": {"models": models * rounds, "chat": requests * rounds, "clients": clients},
            }
        finally:
            self.docker("rm", "--force", name, check=False)

    def growth(self, reference: str) -> dict[str, Any]:
        """The gateway's bytes: the Debian packages the serve image has and the reference image (the same base
        stage without HAProxy) has not, by dpkg's installed sizes (a trimmed serve root is one layer, so
        layers cannot tell), and the gateway's own files."""
        def installed(image: str) -> dict[str, int]:
            out = self.docker("run", "--rm", "--entrypoint", "dpkg-query", image, "-W", "-f",
                              "${Package} ${Installed-Size}\\n").stdout
            return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if len(line.split()) == 2}

        out = self.docker("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", self.image).stdout
        own = sum(parse_size(size) for size, _, created in (line.partition("\t") for line in out.splitlines())
                  if "haproxy.cfg" in created or "/opt/dockyard/models" in created)
        mine, ref = installed(self.image), installed(reference)
        added = {name: kib for name, kib in sorted(mine.items()) if name not in ref}
        apt = sum(added.values()) * 1024
        return {"apt_layer_bytes": apt, "gateway_files_bytes": own, "total_bytes": apt + own, "packages_kib": added}

    def concurrency(self, rounds: int, per_client: int) -> dict[str, Any]:
        results: dict[str, dict[int, dict[str, list[float]]]] = {
            mode: {c: {"rps": [], "p50": [], "first": [], "errors": []} for c in CONCURRENCY}
            for mode in ("on", "off")}
        for round_ in range(rounds):
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                name = self.run(f"{self.prefix}-cb-{mode}", f"DOCKYARD_SERVE_CONTINUOUS_BATCHING="
                                f"{'true' if mode == 'on' else 'false'}", "DOCKYARD_SERVE_CB_MEMORY_PERCENT=4")
                try:
                    self.wait(name, "/ready")
                    for clients in CONCURRENCY:
                        total = max(8, clients * per_client)
                        load = self.client(name, "load", str(GATEWAY), self.model, str(clients), str(total),
                                           "stream")
                        row = results[mode][clients]
                        row["rps"].append(len(load["latencies"]) / load["seconds"])
                        row["p50"].append(statistics.median(load["latencies"]) if load["latencies"] else 0.0)
                        row["first"].append(statistics.median(load["firsts"]) if load["firsts"] else 0.0)
                        row["errors"].append(float(len(load["errors"])))
                finally:
                    self.docker("rm", "--force", name, check=False)
        return {mode: {str(c): {"requests_per_second": statistics.median(v["rps"]),
                                "p50_ms": statistics.median(v["p50"]) * 1000,
                                "first_token_ms": statistics.median(v["first"]) * 1000,
                                "errors": int(sum(v["errors"])),
                                "rounds_rps": [round(x, 2) for x in v["rps"]]}
                       for c, v in by.items()} for mode, by in results.items()}

    def warm_up(self, rounds: int) -> dict[str, Any]:
        """The first chat request right after /health (warm-up off) against right after /ready (on)."""
        first: dict[str, list[float]] = {"off": [], "on": []}
        ready: list[float] = []
        for round_ in range(rounds):
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                name = self.run(f"{self.prefix}-warm-{mode}", f"DOCKYARD_SERVE_WARM_UP="
                                f"{'true' if mode == 'on' else 'false'}", "DOCKYARD_SERVE_CB_MEMORY_PERCENT=4")
                try:
                    health = self.wait(name, "/health")
                    if mode == "on":
                        ready.append(self.wait(name, "/ready") - health)
                    else:
                        self.wait(name, "/ready")  # without the warm-up: as soon as /health answers
                    first[mode].append(self.client(name, "first", str(GATEWAY), self.model)["seconds"])
                finally:
                    self.docker("rm", "--force", name, check=False)
        return {"first_request_s": {mode: statistics.median(v) for mode, v in first.items()},
                "rounds_first_request_s": {mode: [round(x, 2) for x in v] for mode, v in first.items()},
                "warm_up_after_health_s": statistics.median(ready) if ready else 0.0}


def parse_size(text: str) -> int:
    units = {"kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "B": 1}
    text = text.strip()
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return 0


def report(data: dict[str, Any]) -> str:
    lines = []
    over = data.get("overhead")
    if over:
        lines += [
            "gateway against the server directly (same container, alternating blocks):",
            f"  GET /v1/models p50: {over['models_p50_ms']['gateway']:.2f} ms vs {over['models_p50_ms']['direct']:.2f}"
            f" ms: added {over['p50_added_ms']:.2f} ms  (target <= 1 ms: "
            f"{'met' if over['p50_added_ms'] <= 1 else 'NOT met'})",
            f"  chat, {over['samples']['clients']} clients: {over['requests_per_second']['gateway']:.2f} vs "
            f"{over['requests_per_second']['direct']:.2f} req/s = {over['throughput_ratio']:.3f} x  (target >= 0.97: "
            f"{'met' if over['throughput_ratio'] >= 0.97 else 'NOT met'}); p50 {over['chat_p50_ms']['gateway']:.0f}"
            f" vs {over['chat_p50_ms']['direct']:.0f} ms; rounds {over['rounds_rps']}",
        ]
    growth = data.get("growth")
    if growth:
        total = growth["total_bytes"] / 1e6
        lines += [f"image growth from the gateway: {total:.1f} MB (packages +{growth['apt_layer_bytes'] / 1e6:.1f}"
                  f" MB, gateway files {growth['gateway_files_bytes'] / 1e3:.0f} kB; packages {growth['packages_kib']}"
                  f" KiB)  (target <= 15 MB: {'met' if total <= 15 else 'NOT met'})"]
    conc = data.get("concurrency")
    if conc:
        lines.append("through the gateway, streamed chat of up to 16 tokens; continuous batching on / off:")
        lines.append(f"  {'concurrent':>10} {'req/s on':>9} {'req/s off':>9} {'p50 on':>8} {'p50 off':>8} "
                     f"{'1st tok on':>10} {'1st tok off':>11}")
        for clients in CONCURRENCY:
            on, off = conc["on"][str(clients)], conc["off"][str(clients)]
            lines.append(f"  {clients:>10} {on['requests_per_second']:>9.2f} {off['requests_per_second']:>9.2f} "
                         f"{on['p50_ms']:>6.0f}ms {off['p50_ms']:>6.0f}ms {on['first_token_ms']:>8.0f}ms "
                         f"{off['first_token_ms']:>9.0f}ms   errors {on['errors']}/{off['errors']}; rounds "
                         f"{on['rounds_rps']} / {off['rounds_rps']}")
    warm = data.get("warm_up")
    if warm:
        lines.append(f"first chat request after start: {warm['first_request_s']['off']:.2f} s without the warm-up "
                     f"(right after /health), {warm['first_request_s']['on']:.2f} s with it (right after /ready, "
                     f"which came {warm['warm_up_after_health_s']:.1f} s after /health); rounds "
                     f"{warm['rounds_first_request_s']}")
    return "\n".join(lines) + "\n"
