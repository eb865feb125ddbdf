"""What does verify's secret-value probe (supply/leaks.py, issue 21) add to a build? Timed on a built image
against two references measured in the same run: `docker save` of the image alone (the probe's floor: it
reads the saved image) and the probes that already run inside the image (`verify_image`).

    python bench/leak_scan.py                          # dockyard/cpu-inference:latest, 3 rounds
    python bench/leak_scan.py --image IMAGE --rounds 5

Prints each round and the medians with their ratios. A measurement, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dockyard.engine.backends import backend_for
from dockyard.engine.detect import detect
from dockyard.supply.leaks import find_leaks, leak_needles
from dockyard.verify.run import verify_image

# Made-up values with the shapes the probe looks for: a build secret and two environment tokens.
SECRETS = [("deploy_key", "deploy-key-0123456789abcdef0123")]
ENVIRON = {"GITHUB_TOKEN": "ghp_" + "aB3" * 12, "HF_TOKEN": "hf_" + "Q7xK2mP9vL4nR8tW3yZ6bC1dF5gH0jJ2kS"}


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="dockyard/cpu-inference:latest")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backend = backend_for(detect("docker"))
    info = backend.inspect(args.image)
    if info is None:
        raise SystemExit(f"no image {args.image}: build it first (dockyard build cpu-inference)")
    needles = leak_needles(SECRETS, ENVIRON)

    def save() -> None:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as folder:
            subprocess.run([backend.engine.client, "save", "-o", str(Path(folder) / "i.tar"), args.image], check=True)

    rows: dict[str, list[float]] = {"docker save alone": [], "secret-value probe": [], "in-image probes": []}
    for number in range(args.rounds):  # alternate the order, so neither always runs on a warm page cache
        order = list(rows) if number % 2 == 0 else list(reversed(rows))
        for label in order:
            if label == "docker save alone":
                rows[label].append(timed(save))
            elif label == "secret-value probe":
                rows[label].append(timed(lambda: find_leaks(backend, args.image, needles)))
            else:
                rows[label].append(timed(lambda: verify_image(backend, args.image)))
    size = int(info.get("Size", 0)) / 1e6
    print(f"{args.image}: {size:,.0f} MB; {len(needles)} values looked for; {args.rounds} rounds")
    medians = {label: statistics.median(times) for label, times in rows.items()}
    for label, times in rows.items():
        each = ", ".join(f"{t:.1f}" for t in times)
        print(f"{label:22} median {medians[label]:6.1f} s  (rounds: {each})")
    probe = medians["secret-value probe"]
    print(f"secret-value probe / docker save alone: {probe / medians['docker save alone']:.2f}")
    print(f"secret-value probe / in-image probes:   {probe / medians['in-image probes']:.2f}")
    print(f"scan rate: {size / probe:,.0f} MB/s of image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
