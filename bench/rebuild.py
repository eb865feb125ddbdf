"""How fast is a rebuild after a small change? Cold build, then the same image after changing only the
transformers release, then only an application file. Prints the times and the warm/cold ratios.

    python bench/rebuild.py              # about 3 minutes
    python bench/rebuild.py --keep       # keep the image afterwards

The spec is cpu-inference plus one application file copied into /app (spec key `files`), built by
`dockyard build` in a scratch folder, on the site's Python base plus a one-line file unique to this run
(so no layer of an earlier run is reused):
  1. cold: `--no-cache`, so no layer is reused (pip's and apt's download caches are cache mounts and stay
     warm, which makes the cold build faster and the ratios below conservative);
  2. transformers changed only: the same spec with transformers 5.23.0 instead of 5.24.0 (no git host
     is reachable here, so a release stands for a ref; both change the same ARG and the steps after it);
  3. app file changed only: app.py edited;
  4. nothing changed: the floor of a rebuild (context upload, cache checks, image export).
Times are the engine's build time from dockyard's build report (resolve and render take milliseconds).
Results go to bench/results/rebuild.txt and rebuild.json. Target: an app-code rebuild at most 0.10 of
the cold build. No assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.engine.detect import Engine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TAG = "dockyard-bench/rebuild:latest"
BASE_TAG = "dockyard-bench/rebuild-base"
SPEC = """[image]
extends = "cpu-inference"
name = "bench-rebuild"
transformers = "{transformers}"
files = ["app.py"]
cmd = ["python", "/app/app.py"]
"""
APP = 'import transformers\n\nprint("app version {n}", transformers.__version__)\n'


def fresh_base(engine: Engine, nonce: str) -> str:
    """The site's Python base plus one tiny file holding this run's nonce: BuildKit keys its cache on the
    base's layers, so no layer of an earlier run can match, while pip's and apt's download caches (cache
    mounts) stay as they are."""
    from dockyard.engine.maps import load_maps

    base = load_maps((), ()).base_image("python:3.11-slim-bookworm")
    tag = f"{BASE_TAG}:{nonce}"
    dockerfile = f"FROM {base}\nRUN echo {nonce} > /etc/dockyard-bench-nonce\n"
    done = subprocess.run([engine.client, "build", "-q", "-t", tag, "-"], input=dockerfile, capture_output=True,
                          text=True, env={**os.environ, **engine.env})
    if done.returncode != 0:
        raise SystemExit(f"cannot make the bench base image: {done.stderr[-2000:]}")
    return tag


def build(folder: Path, base: str, *extra: str) -> dict[str, Any]:
    dockyard = shutil.which("dockyard") or str(Path(sys.executable).parent / "dockyard")
    started = time.monotonic()
    done = subprocess.run([dockyard, "build", str(folder / "spec.toml"), "--tag", TAG, "--json", "--progress",
                           "plain", "--base-map", f"python:3.11-slim-bookworm={base}", *extra],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dockyard build failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    report["cli_seconds"] = time.monotonic() - started
    return report


def write(folder: Path, transformers: str, app_version: str) -> None:
    (folder / "spec.toml").write_text(SPEC.format(transformers=transformers), encoding="utf-8")
    (folder / "app.py").write_text(APP.format(n=app_version), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the image (default: removed at the end)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    from dockyard.engine.detect import detect

    engine = detect("docker")
    nonce = secrets.token_hex(6)
    steps: list[tuple[str, dict[str, Any]]] = []
    started = time.monotonic()
    base = fresh_base(engine, nonce)
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-rebuild-") as scratch:
            folder = Path(scratch)
            write(folder, "5.24.0", f"{nonce}-1")
            steps.append(("cold build (--no-cache)", build(folder, base, "--no-cache", "--no-verify")))
            write(folder, "5.23.0", f"{nonce}-1")
            steps.append(("transformers 5.24.0 -> 5.23.0 only", build(folder, base, "--no-verify")))
            write(folder, "5.23.0", f"{nonce}-2")
            steps.append(("app.py changed only", build(folder, base)))
            steps.append(("nothing changed", build(folder, base, "--no-verify")))
    finally:
        made = [base] if args.keep else [base, TAG]
        subprocess.run([engine.client, "image", "rm", "--force", *made], capture_output=True)
    app_report = steps[2][1]
    verified = bool((app_report.get("verify") or {}).get("ok"))
    cold = float(steps[0][1]["wall_seconds"])
    lines = [f"{'step':40} {'build':>8} {'/ cold':>7} {'cached steps':>13}"]
    rows = []
    for label, report in steps:
        seconds = float(report["wall_seconds"])
        rows.append({"step": label, "seconds": seconds, "ratio": round(seconds / cold, 3),
                     "cached": report["cached_steps"], "steps": report["total_steps"]})
        lines.append(f"{label:40} {seconds:>7.1f}s {seconds / cold:>7.3f} "
                     f"{report['cached_steps']:>6}/{report['total_steps']:<6}")
    app_ratio = rows[2]["ratio"]
    lines += ["", f"app-code rebuild / cold build: {app_ratio:.3f}  target <= 0.10  "
                  f"{'met' if app_ratio <= 0.10 else 'NOT MET'}",
              f"the app rebuild verified: {'yes' if verified else 'NO'}; image {human(app_report['size'])}",
              f"bench/rebuild.py ran {time.monotonic() - started:.0f} s"]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "rebuild.txt").write_text(text, encoding="utf-8")
        (RESULTS / "rebuild.json").write_text(json.dumps({"steps": rows, "target": {"app_ratio": app_ratio,
                                                          "max": 0.10, "met": app_ratio <= 0.10}}, indent=2)
                                              + "\n", encoding="utf-8")
    return 0


def human(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


if __name__ == "__main__":
    sys.exit(main())
