"""How fast is resolve now that it searches? Rendering every preset (load, resolve, render), against two
references measured in the same run: rendering alone (plans made beforehand), and a one-pass resolve
(one attempt with the preferred torch, variant and Python, what a resolver without a search does).
Also the coverage matrix (every target x profile x add-on and modality, many of them refused) and
refusals that search for the smallest conflicting set of keys.

    python bench/resolve_speed.py              # best of 5 runs
    python bench/resolve_speed.py --repeat 10

Target: rendering all presets well under a second. Results go to bench/results/resolve.txt and
resolve.json. A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from dockyard.errors import ResolveError
from dockyard.knowledge.loader import Knowledge, preset_names
from dockyard.render.renderer import render
from dockyard.resolve.attempt import attempt
from dockyard.resolve.context import Context
from dockyard.resolve.coverage import cells
from dockyard.resolve.python import python_choices
from dockyard.resolve.resolver import resolve
from dockyard.resolve.search import search
from dockyard.resolve.torch import first_torch
from dockyard.spec.model import ImageSpec, load

RESULTS = Path(__file__).resolve().parent / "results"
REFUSED = [  # (what, spec): each is refused, so resolve also looks for the smallest conflicting set of keys
    ("flash-attn on Turing", ImageSpec("b", "cuda", python="3.12", addons=("flash-attn",), gpu_archs=("7.5",))),
    ("Python vs transformers", ImageSpec("b", "cpu", python="3.10", transformers="5.24.0", packages=("einops",))),
    ("torch without a torch_xla pair", ImageSpec("b", "tpu", torch="2.12", modalities=("vision",))),
    ("DeepSpeed on CUDA 13", ImageSpec("b", "cuda", variant="cu130", addons=("deepspeed",))),
]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def one_pass(spec: ImageSpec, k: Knowledge) -> None:
    """The preferred combination only: no search, no note, no fallback."""
    ctx = Context(spec, k)
    choice = first_torch(ctx)
    if choice is not None:
        probe = Context(spec, k)
        attempt(Context(spec, k), choice, python_choices(probe, choice.release)[0])


def refuse_all(k: Knowledge) -> None:
    for _, spec in REFUSED:
        try:
            resolve(spec, k)
        except ResolveError:
            continue
        raise SystemExit(f"expected a refusal: {spec}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    k = Knowledge.load()
    names = preset_names()
    specs = [load(name) for name in names]
    plans = [resolve(spec, k) for spec in specs]
    matrix = len(cells(k))
    attempts = sum(search(spec, k).attempts for spec in specs)
    results = {
        "presets": len(names),
        "preset_attempts": attempts,
        "render_all_presets_s": best(lambda: [render(resolve(load(n), k)) for n in names], args.repeat),
        "render_only_s": best(lambda: [render(p) for p in plans], args.repeat),
        "resolve_search_s": best(lambda: [resolve(s, k) for s in specs], args.repeat),
        "resolve_one_pass_s": best(lambda: [one_pass(s, k) for s in specs], args.repeat),
        "coverage_cells": matrix,
        "coverage_s": best(lambda: cells(k), args.repeat),
        "refusals": len(REFUSED),
        "refusals_with_conflict_s": best(lambda: refuse_all(k), args.repeat),
    }
    lines = [
        f"render all {len(names)} presets (load, resolve, render): {results['render_all_presets_s'] * 1000:.0f} ms",
        f"  render alone (reference):        {results['render_only_s'] * 1000:.0f} ms",
        f"  resolve by search:               {results['resolve_search_s'] * 1000:.0f} ms "
        f"({attempts} combinations tried for {len(names)} presets)",
        f"  resolve one pass (reference):    {results['resolve_one_pass_s'] * 1000:.0f} ms",
        f"  ratio search / one pass:         {results['resolve_search_s'] / results['resolve_one_pass_s']:.2f}",
        f"  ratio all / render alone:        {results['render_all_presets_s'] / results['render_only_s']:.2f}",
        f"coverage matrix, {matrix} specs:    {results['coverage_s'] * 1000:.0f} ms "
        f"({results['coverage_s'] / matrix * 1000:.2f} ms a spec)",
        f"{len(REFUSED)} refusals with the smallest conflicting keys: "
        f"{results['refusals_with_conflict_s'] * 1000:.0f} ms "
        f"({results['refusals_with_conflict_s'] / len(REFUSED) * 1000:.0f} ms each)",
        f"best of {args.repeat} runs",
    ]
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resolve.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "resolve.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
