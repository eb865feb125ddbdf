"""How long does `dockyard` take to start? The commands pre-commit hooks and CI run most, timed as
processes against two references measured in the same run: the bare interpreter (`python -c pass`, the
floor any Python CLI pays) and hadolint on the same file (what a Dockerfile linter costs).

    python bench/startup.py              # best of 10 runs each
    python bench/startup.py --repeat 30

Prints each time and its ratio to the references, and whether the 0.15 s target (issue 13) is met. A
measurement, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.15
DOCKERFILE = """FROM python:3.12-slim
RUN pip install --no-cache-dir transformers==5.24.0
USER 1000
CMD ["python"]
"""


def best_of(command: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    dockyard = shutil.which("dockyard") or str(Path(sys.executable).with_name("dockyard"))
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    with tempfile.TemporaryDirectory() as folder:
        dockerfile = Path(folder) / "Dockerfile"
        dockerfile.write_text(DOCKERFILE, encoding="utf-8")
        floor = best_of([sys.executable, "-c", "pass"], args.repeat)
        hado = best_of([hadolint, str(dockerfile)], args.repeat) if Path(hadolint).exists() else None
        rows = [
            ("dockyard --version", best_of([dockyard, "--version"], args.repeat)),
            ("dockyard --help", best_of([dockyard, "--help"], args.repeat)),
            ("dockyard lint FILE (dockyard rules only)",
             best_of([dockyard, "lint", "--hadolint", "off", str(dockerfile)], args.repeat)),
            ("dockyard lint FILE (with hadolint)", best_of([dockyard, "lint", str(dockerfile)], args.repeat)),
        ]
    print(f"best of {args.repeat} runs; python -c pass: {floor:.3f} s"
          + (f"; hadolint FILE: {hado:.3f} s" if hado is not None else "; hadolint not installed"))
    print(f"{'command':44} {'time':>8} {'x python':>9} {'x hadolint':>11}  target {TARGET_S} s")
    for label, seconds in rows:
        vs_hadolint = f"{seconds / hado:11.2f}" if hado else f"{'-':>11}"
        verdict = "met" if seconds <= TARGET_S else "NOT met"
        print(f"{label:44} {seconds:7.3f}s {seconds / floor:9.2f} {vs_hadolint}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
