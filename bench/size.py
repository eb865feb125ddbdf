"""How small are dockyard's images, and what do they cost at start-up? Sizes, ratios and cold imports,
all measured in one run on the same local base, against images written by hand.

    python bench/size.py                 # everything (about 30 minutes cold, 10 warm)
    python bench/size.py --only ab       # some parts: a (the transformers pattern), b (torch-light),
                                         # c (cpu-inference), d (pipeline-torch, examples-torch),
                                         # e (the CUDA 13 runtime image)
    python bench/size.py --runs 7 --keep # more import runs; keep the images afterwards

(a) bench/dockerfiles/torch-light-pattern.Dockerfile: transformers' torch-light image, step by step, with
    only the base and the torch source adapted to this machine;
(b) dockyard's torch-light preset as this machine can build it (bench/dockerfiles/torch-light-here.toml);
(c) dockyard's cpu-inference with its three bytecode choices (loaded: the preset; all; none), against
    bench/dockerfiles/cpu-inference-hand.Dockerfile and against the payload floor: the base image plus the
    files of cpu-inference's virtualenv;
(d) dockyard's pipeline-torch and examples-torch as this machine can build them (bench/dockerfiles/
    *-here.toml), each against its transformers pattern (*-pattern.Dockerfile, adapted as in (a));
(e) the CUDA 13 runtime image (tests/engine/specs/cuda-runtime.toml: torch 2.13's cu130 wheels from PyPI
    with transformers), with a breakdown of its largest packages (cuDNN, cuBLAS, NCCL, Triton ...)
    against the same packages installed plainly. It needs about 10 GB of disk for a while; the part is
    skipped (and says so) when the engine's disk would drop under 25 GB free.

Beside every image: its floor (bench/floor.py: the same base with the same packages installed plainly,
pip without cache or bytecode) and the image's ratio to it, and the pull size (each layer gzipped at
level 6, what a registry stores and a node downloads). (c)'s floor is built (one image, shared by the
bytecode variants and the hand-written image); the others' are computed from their wheels and Debian
packages, which (c) checks against the built one: a shared disk holds neither a second copy of every
multi-GB image nor the time to build it.

The patterns, torch-light and the (d) images are broken down the same way (bench/breakdown.py, which is
`dockyard audit`'s reading): Debian packages by bytes on disk with what pulled each in, site-packages
by distribution, bytecode.

Cold import: a fresh container per run, `import ...` timed inside it (container start not counted), the
median of --runs runs. The host's page cache cannot be dropped here, so "cold" means a new process in a
new container with warm file pages, which favours no choice over another. Results go to
bench/results/size.json and size.txt. No assertions: targets are printed as met or not.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from breakdown import breakdown, table
from floor import Floor, Floors, computed_floor, debian_bytes, distribution_sizes, pull_size
from harness import Harness

HERE = Path(__file__).resolve().parent
DOCKERFILES = HERE / "dockerfiles"
RESULTS = HERE / "results"
PREFIX = os.environ.get("DOCKYARD_BENCH_PREFIX", "dockyard-bench")  # unique names on a shared daemon
IMPORT_TORCH = "import torch"
IMPORT_BOTH = "import torch, transformers"


@dataclass
class Image:
    key: str
    label: str
    tag: str
    size: int = 0
    build_seconds: float = 0.0
    imports: dict[str, float] = field(default_factory=dict)  # statement -> median seconds
    layers: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    breakdown: dict[str, Any] = field(default_factory=dict)  # bench/breakdown.py
    pull: int = 0  # each layer gzipped (bench/floor.py)
    floor: Floor | None = None
    packages: list[tuple[str, int, int]] = field(default_factory=list)  # (distribution, floor bytes, image bytes)


class Bench(Harness):
    def __init__(self, runs: int, keep: bool = False) -> None:
        super().__init__()
        self.runs = runs
        self.keep = keep
        self.floors = Floors(self, PREFIX)

    def against_floor(self, image: Image, built: bool = False) -> None:
        """The image's pull size and its floor (built, or computed from the wheels: bench/floor.py); then
        the image goes (unless --keep): the disk is shared."""
        image.pull = pull_size(self, image.tag)
        image.floor = self.floors.of(image.tag) if built else computed_floor(self, image.tag)[0]
        if not self.keep:
            self.docker("image", "rm", "--force", image.tag, check=False)
            self.made.remove(image.tag)

    def inspect(self, tag: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.docker("image", "inspect", tag).stdout)[0]
        return data

    def size(self, tag: str) -> int:
        return int(self.inspect(tag)["Size"])

    def layers(self, tag: str) -> list[tuple[int, str]]:
        from dockyard.engine.report import instruction_text

        out = self.docker("history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag)
        rows = []
        for line in reversed(out.stdout.splitlines()):
            size, _, created = line.partition("\t")
            if int(size or 0) > 1_000_000:
                rows.append((int(size), instruction_text(created, 90)))
        return rows

    def build_dockerfile(self, image: Image, dockerfile: Path, args: dict[str, str]) -> None:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as folder:
            context = Path(folder)
            (context / "wheels").mkdir()
            for wheel in self.wheelhouse.glob("*.whl"):
                os.link(wheel, context / "wheels" / wheel.name)
            shutil.copy(dockerfile, context / "Dockerfile")
            argv = ["build", "--progress=plain", "--tag", image.tag, "--secret", f"id=ca,src={self.ca}",
                    "--build-arg", f"BASE_IMAGE={self.base}"]
            for key, value in args.items():
                argv += ["--build-arg", f"{key}={value}"]
            started = time.monotonic()
            self.docker(*argv, str(context))
            image.build_seconds = time.monotonic() - started
        self.made.append(image.tag)
        image.size = self.size(image.tag)

    def build_spec(self, image: Image, spec: str) -> dict[str, Any]:
        dockyard = shutil.which("dockyard") or str(Path(sys.executable).parent / "dockyard")
        done = subprocess.run([dockyard, "build", spec, "--tag", image.tag, "--json", "--progress", "plain"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dockyard build {spec} failed:\n{done.stderr[-3000:]}")
        report: dict[str, Any] = json.loads(done.stdout)
        self.made.append(image.tag)
        image.size = int(report["size"])
        image.build_seconds = float(report["wall_seconds"])
        verify = report.get("verify") or {}
        image.notes.append(f"verify {'passed' if verify.get('ok') else 'FAILED'}"
                           f"{' on a read-only root' if verify.get('read_only') else ''}")
        return report

    def cold_import(self, tag: str, statement: str) -> float:
        """Median seconds of `statement` in a fresh container per run, timed inside the container."""
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        times = []
        for _ in range(self.runs):
            out = self.docker("run", "--rm", "--network", "none", "--entrypoint", "python", tag, "-c", code)
            times.append(float(out.stdout.strip().splitlines()[-1]))
        return statistics.median(times)

    def file_bytes(self, tag: str, path: str, pattern: str = "*") -> int:
        """Sum of the sizes of the regular files under path (what an image layer stores for them)."""
        script = f"find {path} -type f -name '{pattern}' -printf '%s\\n' | awk '{{s += $1}} END {{print s + 0}}'"
        return int(self.docker("run", "--rm", "--entrypoint", "sh", tag, "-c", script).stdout.strip() or 0)

    def cleanup(self) -> None:
        if self.made:
            self.docker("image", "rm", "--force", *self.made, check=False)


def transformers_version(spec: str) -> str:
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load

    version = resolve(load(spec)).transformers.version
    assert version, spec
    return version


def part_a_b(bench: Bench, images: dict[str, Image], parts: str) -> None:
    spec = str(DOCKERFILES / "torch-light-here.toml")
    if "a" in parts:
        pattern = Image("pattern", "transformers' torch-light pattern (a)", f"{PREFIX}/torch-light-pattern:latest")
        bench.build_dockerfile(pattern, DOCKERFILES / "torch-light-pattern.Dockerfile",
                               {"TRANSFORMERS_VERSION": transformers_version(spec)})
        pattern.layers = bench.layers(pattern.tag)
        pattern.imports[IMPORT_TORCH] = bench.cold_import(pattern.tag, IMPORT_TORCH)
        pattern.breakdown = breakdown(bench.engine, pattern.tag)
        pattern.notes.append("transformers uninstalled at the end, as in the original")
        bench.against_floor(pattern)
        images["pattern"] = pattern
    if "b" in parts:
        light = Image("torch-light", "dockyard torch-light preset (b)", f"{PREFIX}/torch-light:latest")
        bench.build_spec(light, spec)
        light.layers = bench.layers(light.tag)
        light.imports[IMPORT_TORCH] = bench.cold_import(light.tag, IMPORT_TORCH)
        light.imports[IMPORT_BOTH] = bench.cold_import(light.tag, IMPORT_BOTH)
        light.breakdown = breakdown(bench.engine, light.tag)
        bench.against_floor(light)
        images["torch-light"] = light


# The other multimodal CI presets, each against its transformers pattern. exotic-models is not here: it
# compiles detectron2 from GitHub (not reachable) and needs torchvision (download.pytorch.org only).
CI_PRESETS = ("pipeline-torch", "examples-torch")
NOT_BUILT = {"exotic-models": "detectron2 is compiled from a GitHub commit and the image needs torchvision's CPU build "
                              "(download.pytorch.org): neither is reachable here"}


def part_d(bench: Bench, images: dict[str, Image]) -> None:
    for preset in CI_PRESETS:
        spec = str(DOCKERFILES / f"{preset}-here.toml")
        pattern = Image(f"{preset}-pattern", f"transformers' {preset} pattern (d)",
                        f"{PREFIX}/{preset}-pattern:latest")
        bench.build_dockerfile(pattern, DOCKERFILES / f"{preset}-pattern.Dockerfile",
                               {"TRANSFORMERS_VERSION": transformers_version(spec)})
        pattern.breakdown = breakdown(bench.engine, pattern.tag)
        bench.against_floor(pattern)
        images[pattern.key] = pattern
        mine = Image(preset, f"dockyard {preset} preset (d)", f"{PREFIX}/{preset}:latest")
        try:
            bench.build_spec(mine, spec)
        except SystemExit as failed:  # reported, and the other images are still measured
            last = [line for line in str(failed).splitlines() if line.strip()][-12:]
            pattern.notes.append(f"dockyard's {preset} did not build here:\n    " + "\n    ".join(last))
            continue
        mine.breakdown = breakdown(bench.engine, mine.tag)
        bench.against_floor(mine)
        images[preset] = mine


def part_c(bench: Bench, images: dict[str, Image]) -> dict[str, int]:
    variants = {"loaded": "cpu-inference", "all": str(DOCKERFILES / "cpu-inference-bytecode-all.toml"),
                "none": str(DOCKERFILES / "cpu-inference-bytecode-none.toml")}
    payload: dict[str, int] = {}
    for choice, spec in variants.items():
        key = f"cpu-inference-{choice}"
        image = Image(key, f"dockyard cpu-inference, bytecode {choice}", f"{PREFIX}/{key}:latest")
        bench.build_spec(image, spec)
        for statement in (IMPORT_TORCH, IMPORT_BOTH):
            image.imports[statement] = bench.cold_import(image.tag, statement)
        if choice == "loaded":
            payload = {"base": bench.size(bench.base), "venv": bench.file_bytes(image.tag, "/opt/venv"),
                       "bytecode": bench.file_bytes(image.tag, "/opt/venv", "*.pyc"),
                       "computed_floor": computed_floor(bench, image.tag)[0].size}
        bench.against_floor(image, built=True)
        images[key] = image
    hand = Image("hand", "hand-written multi-stage cpu-inference", f"{PREFIX}/cpu-inference-hand:latest")
    bench.build_dockerfile(hand, DOCKERFILES / "cpu-inference-hand.Dockerfile", {})
    for statement in (IMPORT_TORCH, IMPORT_BOTH):
        hand.imports[statement] = bench.cold_import(hand.tag, statement)
    bench.against_floor(hand, built=True)
    images["hand"] = hand
    return payload


CUDA_SPEC = HERE.parent / "tests" / "engine" / "specs" / "cuda-runtime.toml"
FREE_AFTER = 25e9  # the disk the machine keeps free (other builds share it)
CUDA_NEEDS = 7e9  # the CUDA image with room for its export (its floor is computed, not built)


def part_e(bench: Bench, images: dict[str, Image]) -> None:
    """The CUDA 13 runtime image against its floor, package by package."""
    image = Image("cuda", "dockyard CUDA 13 runtime (e)", f"{PREFIX}/cuda-runtime:latest")
    root = bench.docker("info", "--format", "{{.DockerRootDir}}").stdout.strip() or "/var/lib/docker"
    free = shutil.disk_usage(root).free
    if free - CUDA_NEEDS < FREE_AFTER:
        image.notes.append(f"not built: {mb(free)} free under {root}; it needs {mb(CUDA_NEEDS)} and the machine "
                           f"keeps {mb(FREE_AFTER)} free")
        images["cuda"] = image
        return
    bench.build_spec(image, str(CUDA_SPEC))
    image.layers = bench.layers(image.tag)
    mine = distribution_sizes(bench, image.tag)
    mine["(bytecode)"] = bench.file_bytes(image.tag, "/opt/venv", "*.pyc")
    image.pull = pull_size(bench, image.tag)
    # its floor is computed, not built (another 4 GB on a shared disk); part c checks the method
    image.floor, plain = computed_floor(bench, image.tag)
    # the same Debian packages on both sides: declared Installed-Size for the floor, files on disk here
    mine["(Debian packages)"] = debian_bytes(bench, image.tag, image.floor.debian)
    if not bench.keep:
        bench.docker("image", "rm", "--force", image.tag, check=False)
        bench.made.remove(image.tag)
    image.packages = sorted(((name, plain.get(name, 0), mine.get(name, 0)) for name in set(mine) | set(plain)),
                            key=lambda row: -max(row[1], row[2]))
    images["cuda"] = image


def mb(size: float) -> str:
    return f"{round(size / 1e6):,} MB"  # round() to an int: a few bytes below zero read "0 MB", not "-0 MB"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def report(images: dict[str, Image], floor: dict[str, int]) -> tuple[str, dict[str, Any]]:
    lines = ["image sizes against their floors: the same base with the same packages installed plainly (pip, no",
             "cache, no bytecode; bench/floor.py); pull: every layer gzipped (level 6), what a node downloads", ""]
    lines.append(f"{'image':44} {'size':>9} {'floor':>9} {'x floor':>7} {'pull':>9} {'floor pull':>10}")
    for image in images.values():
        if not image.size:
            continue
        own = image.floor
        lines.append(f"{image.label:44} {mb(image.size):>9} {mb(own.size) if own else '-':>9} "
                     f"{f'{ratio(image.size, own.size):.3f}' if own else '-':>7} {mb(image.pull):>9} "
                     f"{mb(own.pull) if own and own.pull else '-':>10}")
    lines += ["", "cold imports (median of fresh containers; page cache warm); build* is the engine time in this run,",
              "with the layers earlier runs left in the cache (bench/rebuild.py times cold builds)", ""]
    lines.append(f"{'image':48} {'build*':>7} {'import torch':>13} {'+ transformers':>15}")
    for image in images.values():
        if not image.size:
            continue
        torch_s = image.imports.get(IMPORT_TORCH)
        both = image.imports.get(IMPORT_BOTH)
        lines.append(f"{image.label:48} {image.build_seconds:>6.0f}s "
                     f"{f'{torch_s:.2f} s' if torch_s else '-':>13} {f'{both:.2f} s' if both else '-':>15}")
    targets: dict[str, Any] = {}
    lines.append("")
    if "pattern" in images and "torch-light" in images:
        value = ratio(images["torch-light"].size, images["pattern"].size)
        targets["torch-light / pattern"] = {"value": round(value, 3), "target": "<= 0.70", "met": value <= 0.70}
    for preset in CI_PRESETS:
        if preset in images and f"{preset}-pattern" in images:
            value = ratio(images[preset].size, images[f"{preset}-pattern"].size)
            targets[f"{preset} / pattern"] = {"value": round(value, 3), "target": "<= 0.70", "met": value <= 0.70}
    if "cpu-inference-loaded" in images:
        loaded, full, none = (images[f"cpu-inference-{c}"] for c in ("loaded", "all", "none"))
        size = loaded.size
        targets["cpu-inference size"] = {"value": size, "target": "< 1 GB", "met": size < 1e9}
        value = ratio(loaded.imports[IMPORT_BOTH], full.imports[IMPORT_BOTH])
        targets["cpu-inference cold import / full bytecode"] = {"value": round(value, 3), "target": "<= 1.2",
                                                                "met": value <= 1.2}
        hand = images["hand"]
        targets["cpu-inference / hand-written"] = {"value": round(ratio(size, hand.size), 3), "target": "report"}
        payload = floor["base"] + floor["venv"]
        targets["cpu-inference / payload floor"] = {"value": round(ratio(size, payload), 3), "target": "report",
                                                    "floor": payload, **floor}
        targets["bytecode none / loaded / all sizes"] = {"value": [none.size, loaded.size, full.size]}
        targets["import none / loaded / all"] = {"value": [round(i.imports[IMPORT_BOTH], 2)
                                                           for i in (none, loaded, full)]}
    cuda = images.get("cuda")
    if cuda is not None and cuda.floor is not None:
        value = ratio(cuda.size, cuda.floor.size)
        targets["CUDA 13 runtime / its floor"] = {"value": round(value, 3), "target": "<= 1.0", "met": value <= 1.0}
    for name, item in targets.items():
        met = item.get("met")
        verdict = "" if met is None else ("  met" if met else "  NOT MET")
        value = item["value"]
        shown = mb(value) if isinstance(value, int) else (
            ", ".join(mb(v) if v > 1000 else f"{v:.2f} s" for v in value) if isinstance(value, list) else f"{value}")
        lines.append(f"{name:44} {shown:>30}  target {item.get('target', '-')}{verdict}")
    if floor:
        lines.append(f"{'payload floor: base + venv files':44} {mb(floor['base'] + floor['venv']):>30}  "
                     f"(base {mb(floor['base'])}, venv {mb(floor['venv'])} of which bytecode {mb(floor['bytecode'])})")
    built = images.get("cpu-inference-loaded")
    if floor and built is not None and built.floor is not None:
        computed = floor["computed_floor"]
        lines.append(f"{'floor of cpu-inference, computed / built':44} {mb(computed):>13} / {mb(built.floor.size)}"
                     f"  ({ratio(computed, built.floor.size):.4f}: the method of the CUDA floor, checked)")
    if any(preset in images for preset in CI_PRESETS):
        lines += [f"{'not built here: ' + name:44} {why}" for name, why in NOT_BUILT.items()]
    if cuda is not None and cuda.packages:
        lines += ["", "CUDA 13 runtime (e): its largest packages, bytes on disk of each distribution's files, the",
                  "floor's plain install against dockyard's image (slim: symbol tables stripped, headers, static",
                  "libraries, tests and stubs removed; bytecode only for what the warm-up loads)", "",
                  f"  {'package':34} {'floor':>10} {'image':>10} {'saved':>10}"]
        for name, plain, mine in cuda.packages[:20]:
            lines.append(f"  {name:34} {mb(plain):>10} {mb(mine):>10} {mb(plain - mine):>10}")
        rest = cuda.packages[20:]
        lines.append(f"  {f'{len(rest)} others':34} {mb(sum(r[1] for r in rest)):>10} {mb(sum(r[2] for r in rest)):>10}"
                     f" {mb(sum(r[1] - r[2] for r in rest)):>10}")
    broken_down = {k: (i.label, i.breakdown) for k, i in images.items() if i.breakdown}
    if broken_down:
        lines += table(broken_down)
    for image in images.values():
        if image.layers:
            lines += ["", f"layers over 1 MB: {image.label}"]
            lines += [f"  {mb(size):>9}  {text}" for size, text in image.layers]
        for note in image.notes:
            lines.append(f"note: {image.label}: {note}")
    data = {"images": {k: asdict(v) for k, v in images.items()}, "targets": targets, "floor": floor}
    return "\n".join(lines) + "\n", data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="abcde", help="parts to run: a, b, c, d, e or a mix (default abcde)")
    parser.add_argument("--runs", type=int, default=5, help="cold-import runs per image (median)")
    parser.add_argument("--keep", action="store_true", help="keep the images (default: removed at the end)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    bench = Bench(args.runs, args.keep)
    images: dict[str, Image] = {}
    floor: dict[str, int] = {}
    started = time.monotonic()
    try:
        part_a_b(bench, images, args.only)
        if "c" in args.only:
            floor = part_c(bench, images)
        if "d" in args.only:
            part_d(bench, images)
        if "e" in args.only:
            part_e(bench, images)
    finally:
        if not args.keep:
            bench.cleanup()
    parts = "".join(sorted(set(args.only)))
    stem = "size" if parts == "abcde" else f"size-{parts}"
    try:
        text, data = report(images, floor)
    except Exception:  # keep what was measured (an hour of building) for a fixed report
        RESULTS.mkdir(exist_ok=True)
        raw = {"images": {k: asdict(v) for k, v in images.items()}, "floor": floor}
        (RESULTS / f"{stem}-unreported.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
        raise
    text += f"\nbench/size.py ran {time.monotonic() - started:.0f} s on {bench.engine.describe()}; base {bench.base}\n"
    print(text)
    if not args.no_save:  # a full run rewrites size.txt; a partial one size-<parts>.txt beside it
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{stem}.txt").write_text(text, encoding="utf-8")
        (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
