"""Does dockyard's serve image cost anything at run time? Same machine, same run, same tiny model, same
server (transformers' own `transformers serve`) and the same package versions: dockyard's serve image
against bench/dockerfiles/serve-reference.Dockerfile, the server installed the way transformers' own
Dockerfiles install things (one stage, root, caches kept, no bytecode).

    python bench/serve.py              # about 15 minutes with warm build caches
    python bench/serve.py --runs 5     # more rounds; --keep keeps the images
    python bench/serve.py --part gateway   # the gateway and the run-time settings (bench/serve_gateway.py)

Measured per image: size, its floor (bench/floor.py: the same base with the same packages installed
plainly) and the pull size (layers gzipped); container start to the first 200 from /health (median of --runs fresh
containers, alternating images); first-token latency of a streamed chat completion (median of 5);
requests/s and p50/p99 latency under a bounded load (--clients x --requests chat completions of up to
16 tokens, loopback only); idle memory after start (docker stats). Every measure is taken in each of
--runs rounds that alternate the images' order; medians over rounds are reported. dockyard's image runs as it is
deployed (its user, read-only root, tmpfs /tmp); the reference runs as its Dockerfile intends (root,
writable). Results: bench/results/serve.json and serve.txt. No assertions: targets are printed as met
or not (size <= 0.5x, ready <= 0.6x, throughput >= 0.95x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "engine"))
from floor import Floor, Floors, pull_size  # noqa: E402  (bench/ is on sys.path when run as a script)
from harness import Harness  # noqa: E402

RESULTS = HERE / "results"
PREFIX = os.environ.get("DOCKYARD_BENCH_PREFIX", "dockyard-bench") + "-serve"  # unique names on a shared daemon
PORT = {"dockyard": 18401, "reference": 18402}
SPEC = '[image]\nextends = "cpu-serve"\nname = "dockyard-bench-serve"\n\n[serve]\nmodel = "path:model"\n'
MODEL = {"dockyard": "dockyard-bench-serve", "reference": "/opt/model"}  # the id each server answers to
TARGETS = {"size": ("<=", 0.5), "ready_seconds": ("<=", 0.6), "requests_per_second": (">=", 0.95)}


@dataclass
class Result:
    key: str
    tag: str
    size: int = 0
    ready_seconds: list[float] = field(default_factory=list)
    first_token_seconds: float = 0.0
    requests_per_second: float = 0.0
    rounds_requests_per_second: list[float] = field(default_factory=list)
    p50_seconds: float = 0.0
    p99_seconds: float = 0.0
    errors: int = 0
    idle_memory: int = 0
    pull: int = 0  # every layer gzipped (bench/floor.py)
    floor: Floor | None = None


class Bench(Harness):
    def __init__(self, keep: bool = False) -> None:
        super().__init__()
        self.keep = keep
        self.floors = Floors(self, PREFIX)

    def size(self, tag: str) -> int:
        return int(json.loads(self.docker("image", "inspect", tag).stdout)[0]["Size"])

    def build_dockyard(self, folder: Path) -> Result:
        spec = folder / "spec.toml"
        spec.write_text(SPEC)
        tag = f"{PREFIX}/dockyard:latest"
        dockyard = shutil.which("dockyard") or str(Path(sys.executable).parent / "dockyard")
        done = subprocess.run([dockyard, "build", str(spec), "--tag", tag, "--json", "--progress", "plain"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dockyard build failed:\n{done.stderr[-3000:]}")
        self.made.append(tag)
        return Result("dockyard", tag, size=int(json.loads(done.stdout)["size"]))

    def build_reference(self, folder: Path, dockyard_tag: str) -> Result:
        """The reference gets dockyard's image's exact versions as constraints: the same server, installed
        another way."""
        code = ("import importlib.metadata as m; print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" "
                "for d in m.distributions())))")
        pins = self.docker("run", "--rm", "--entrypoint", "python", dockyard_tag, "-c", code).stdout.split()
        context = folder / "reference"
        (context / "wheels").mkdir(parents=True)
        for wheel in self.wheelhouse.glob("torch-*.whl"):
            os.link(wheel, context / "wheels" / wheel.name)
        (context / "constraints.txt").write_text("\n".join(p for p in pins if not p.startswith("torch==")) + "\n")
        shutil.copytree(folder / "model", context / "model")
        shutil.copy(HERE / "dockerfiles" / "serve-reference.Dockerfile", context / "Dockerfile")
        tag = f"{PREFIX}/reference:latest"
        self.docker("build", "--progress=plain", "--tag", tag, "--secret", f"id=ca,src={self.ca}",
                    "--build-arg", f"BASE_IMAGE={self.base}", str(context))
        self.made.append(tag)
        return Result("reference", tag, size=int(json.loads(self.docker("image", "inspect", tag).stdout)[0]["Size"]))

    def start(self, result: Result) -> tuple[str, float]:
        """Run a fresh container; seconds from `docker run` to the first 200 from /health."""
        from dockyard.deploy.local import wait_healthy

        name = f"{PREFIX}-{result.key}"
        self.docker("rm", "--force", name, check=False)
        hardening = (["--user", "1000:1000", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
                     if result.key == "dockyard" else [])
        started = time.monotonic()
        self.docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{PORT[result.key]}:8000",
                    *hardening, result.tag)
        seconds = wait_healthy(f"http://127.0.0.1:{PORT[result.key]}/health", lambda: True, 300, interval=0.1)
        if seconds is None:
            logs = self.docker("logs", "--tail", "30", name, check=False)
            raise SystemExit(f"{name} never became healthy:\n{logs.stdout}{logs.stderr}")
        return name, time.monotonic() - started

    def memory(self, name: str) -> int:
        text = self.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).stdout.split("/")[0].strip()
        units = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "B": 1}
        for unit, factor in units.items():
            if text.endswith(unit):
                return int(float(text[: -len(unit)]) * factor)
        return 0


def chat(port: int, stream: bool = False, max_tokens: int = 16) -> float:
    """Seconds to the whole answer, or with stream=True to the first content chunk."""
    model = MODEL["dockyard" if port == PORT["dockyard"] else "reference"]
    body = json.dumps({"model": model, "max_tokens": max_tokens, "stream": stream,
                       "messages": [{"role": "user", "content": "Hello, how are you today?"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                     {"Content-Type": "application/json"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        if not stream:
            json.load(response)
            return time.monotonic() - started
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            choices = json.loads(line[5:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                first = time.monotonic() - started
                response.read()
                return first
    raise RuntimeError("no content chunk in the stream")


def load(port: int, clients: int, requests: int) -> tuple[float, list[float], int]:
    """requests/s, per-request latencies and errors of `clients` concurrent clients x `requests` each."""
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        for _ in range(requests):
            try:
                latencies.append(chat(port))
            except Exception as exc:  # counted, not raised: the load's error count is a result
                errors.append(str(exc))

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return len(latencies) / (time.monotonic() - started), latencies, len(errors)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(bench: Bench, results: list[Result], runs: int, clients: int, requests: int) -> None:
    """`runs` rounds; in each, every image gets a fresh container: time to ready, idle memory, first token,
    then the bounded load. Rounds alternate the order (A B, B A, ...) so drift on a shared machine falls on
    both images alike; the report takes medians over rounds and pools the latencies."""
    samples: dict[str, dict[str, list[float]]] = {r.key: {"first": [], "rps": [], "lat": [], "mem": []}
                                                  for r in results}
    for round_ in range(runs):
        for result in results if round_ % 2 == 0 else list(reversed(results)):
            name, seconds = bench.start(result)
            result.ready_seconds.append(seconds)
            time.sleep(5)
            mine = samples[result.key]
            mine["mem"].append(bench.memory(name))
            chat(PORT[result.key])  # the first request warms the server up; not counted
            mine["first"].append(statistics.median(chat(PORT[result.key], stream=True) for _ in range(5)))
            rps, latencies, errors = load(PORT[result.key], clients, requests)
            mine["rps"].append(rps)
            mine["lat"] += latencies
            result.errors += errors
            bench.docker("rm", "--force", name)
    for result in results:
        mine = samples[result.key]
        result.idle_memory = int(statistics.median(mine["mem"]))
        result.first_token_seconds = statistics.median(mine["first"])
        result.requests_per_second = statistics.median(mine["rps"])
        result.rounds_requests_per_second = [round(value, 2) for value in mine["rps"]]
        result.p50_seconds, result.p99_seconds = percentile(mine["lat"], 0.5), percentile(mine["lat"], 0.99)


def report(results: list[Result], clients: int, requests: int) -> str:
    mine, ref = results
    rows = [("image size", f"{mine.size / 1e6:.0f} MB", f"{ref.size / 1e6:.0f} MB", mine.size / ref.size, "size"),
            ("start to /health ready (median)", f"{statistics.median(mine.ready_seconds):.1f} s",
             f"{statistics.median(ref.ready_seconds):.1f} s",
             statistics.median(mine.ready_seconds) / statistics.median(ref.ready_seconds), "ready_seconds"),
            ("first token (streamed, median)", f"{mine.first_token_seconds * 1000:.0f} ms",
             f"{ref.first_token_seconds * 1000:.0f} ms", mine.first_token_seconds / ref.first_token_seconds, ""),
            (f"requests/s ({clients} clients x {requests})", f"{mine.requests_per_second:.2f}",
             f"{ref.requests_per_second:.2f}", mine.requests_per_second / ref.requests_per_second,
             "requests_per_second"),
            ("p50 latency", f"{mine.p50_seconds * 1000:.0f} ms", f"{ref.p50_seconds * 1000:.0f} ms",
             mine.p50_seconds / ref.p50_seconds, ""),
            ("p99 latency", f"{mine.p99_seconds * 1000:.0f} ms", f"{ref.p99_seconds * 1000:.0f} ms",
             mine.p99_seconds / ref.p99_seconds, ""),
            ("idle memory", f"{mine.idle_memory / 2**20:.0f} MiB", f"{ref.idle_memory / 2**20:.0f} MiB",
             mine.idle_memory / ref.idle_memory if ref.idle_memory else 0.0, ""),
            ("errors under load", str(mine.errors), str(ref.errors), None, "")]
    mine_floor, ref_floor = mine.floor, ref.floor
    assert mine_floor is not None and ref_floor is not None
    rows[1:1] = [("floor: same packages, plain pip", f"{mine_floor.size / 1e6:.0f} MB",
                  f"{ref_floor.size / 1e6:.0f} MB", mine_floor.size / ref_floor.size, ""),
                 ("image / its floor", f"{mine.size / mine_floor.size:.3f}", f"{ref.size / ref_floor.size:.3f}", None,
                  ""),
                 ("pull size (layers gzipped)", f"{mine.pull / 1e6:.0f} MB", f"{ref.pull / 1e6:.0f} MB",
                  mine.pull / ref.pull, ""),
                 ("floor pull size", f"{mine_floor.pull / 1e6:.0f} MB", f"{ref_floor.pull / 1e6:.0f} MB",
                  mine_floor.pull / ref_floor.pull, "")]
    lines = [f"{'':34} {'dockyard':>12} {'reference':>12} {'ratio':>7}  target"]
    for label, a, b, ratio, key in rows:
        target = ""
        if key:
            op, bound = TARGETS[key]
            met = ratio <= bound if op == "<=" else ratio >= bound
            target = f"{op} {bound}  {'met' if met else 'NOT met'}"
        shown = "-" if ratio is None else f"{ratio:.3f}"
        lines.append(f"{label:34} {a:>12} {b:>12} {shown:>7}  {target}".rstrip())
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds, each a cold start, idle memory, first tokens and the load per image (default 3)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=10, help="requests per client")
    parser.add_argument("--keep", action="store_true", help="keep the images")
    parser.add_argument("--part", choices=("pattern", "gateway", "all"), default="all",
                        help="pattern: against transformers' install pattern; gateway: the gateway's overhead and "
                             "growth, throughput at 1/8/32 concurrent requests with continuous batching on and off, "
                             "the warm-up (default all)")
    parser.add_argument("--gateway-rounds", type=int, default=2, help="rounds of the gateway part (default 2)")
    args = parser.parse_args()
    from tinymodel import make_tiny_llama

    bench = Bench(args.keep)
    if args.part in ("gateway", "all"):
        gateway_part(bench, args.gateway_rounds, args.keep)
    if args.part == "gateway":
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-serve-") as tmp:
            folder = Path(tmp)
            make_tiny_llama(folder / "model")
            mine = bench.build_dockyard(folder)
            ref = bench.build_reference(folder, mine.tag)
        results = [mine, ref]
        for result in results:
            result.pull = pull_size(bench, result.tag)
            result.floor = bench.floors.of(result.tag)
        measure(bench, results, args.runs, args.clients, args.requests)
    finally:
        for key in PORT:
            bench.docker("rm", "--force", f"{PREFIX}-{key}", check=False)
        if not args.keep:
            for tag in bench.made:
                bench.docker("image", "rm", "--force", tag, check=False)
    text = report(results, args.clients, args.requests)
    for result in results:  # the spread says how much a shared machine moved the medians
        text += (f"{result.key}: ready per round {', '.join(f'{s:.1f}' for s in result.ready_seconds)} s; "
                 f"requests/s per round {', '.join(map(str, result.rounds_requests_per_second))}\n")
    print(text, end="")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.txt").write_text(text)
    (RESULTS / "serve.json").write_text(json.dumps([asdict(r) for r in results], indent=2, sort_keys=True) + "\n")
    return 0


def gateway_part(bench: Bench, rounds: int, keep: bool) -> None:
    """bench/serve_gateway.py's measurements of the dockyard image, with cpu-inference (the same base stage
    without the gateway) built in the same run as the reference for the image's growth."""
    from serve_gateway import GatewayBench
    from serve_gateway import report as gateway_report
    from tinymodel import make_tiny_llama

    dockyard = shutil.which("dockyard") or str(Path(sys.executable).parent / "dockyard")
    reference = f"{PREFIX}/cpu-inference:latest"
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-gateway-") as tmp:
            folder = Path(tmp)
            make_tiny_llama(folder / "model")
            mine = bench.build_dockyard(folder)
            subprocess.run([dockyard, "build", "cpu-inference", "--tag", reference, "--progress", "plain"],
                           check=True, capture_output=True)
            bench.made.append(reference)
        measured = GatewayBench(bench.docker, mine.tag, MODEL["dockyard"], f"{PREFIX}-gw")
        data: dict[str, object] = {"growth": measured.growth(reference)}
        data["overhead"] = measured.overhead(rounds * 2, 300, 8, 48)
        data["concurrency"] = measured.concurrency(rounds, 4)
        data["warm_up"] = measured.warm_up(rounds)
    finally:
        if not keep:
            for tag in bench.made:
                bench.docker("image", "rm", "--force", tag, check=False)
            bench.made.clear()
    text = gateway_report(data)
    print(text, end="")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve-gateway.txt").write_text(text)
    (RESULTS / "serve-gateway.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
