"""The base images: the final stage's (from the target's template, or the spec's `base`) and the builder
stage's when something compiles; a missing knowledge row is a problem that names the row."""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.version import Version

from dockyard.knowledge.accelerators import base_accelerator
from dockyard.resolve.addons import fill
from dockyard.resolve.context import Context
from dockyard.resolve.plan import TorchPlan


@dataclass
class Base:
    runtime: str
    builder: str
    distro: str
    notes: list[str] = field(default_factory=list)


def resolve_base(ctx: Context, torch: TorchPlan, python: str, compile_needed: bool) -> Base:
    spec, k = ctx.spec, ctx.k
    target = k.targets[spec.target]
    values = {"python": python, "toolkit": "", "ubuntu": "", "dev_image": ""}
    notes: list[str] = []
    if torch.variant in k.cuda_variants and target.family == "cuda":
        row = k.cuda_variants[torch.variant]
        native = [u for u in row.ubuntu if k.distro_python.get(f"ubuntu:{u}") == python]
        values["toolkit"] = row.toolkit
        values["ubuntu"] = native[0] if native else row.ubuntu[0]
    elif torch.variant in k.rocm_variants and target.family == "rocm":
        rocm_row = k.rocm_variants[torch.variant]
        values["ubuntu"] = rocm_row.ubuntu
        values["dev_image"] = rocm_row.dev_image
    elif target.family in ("cuda", "rocm") and not ctx.problems:  # else an earlier problem explains it
        ctx.fail("variant", torch.variant, f"knowledge has no base image row for {torch.variant}; add it to "
                 f"knowledge/{target.family}.toml")
    runtime = fill(target.runtime_base, values)
    toolchain = spec.runtime_toolchain
    builder = fill(target.compile_base, values) if (compile_needed or toolchain) and target.family != "cpu" \
        else runtime
    if (compile_needed or toolchain) and not builder:
        builder = _missing_builder(ctx, torch)
    if toolchain and builder:
        runtime = builder  # runtime-toolchain: the final stage starts from the compile base (nvcc, hipcc)
    distro = fill(target.distro, values)
    if spec.base:
        _check_base(ctx, spec.base, torch)
        if builder in (runtime, ""):
            builder = spec.base
        runtime = spec.base
        notes.append(f"base {spec.base} given in the spec; the builder stage uses {builder}")
    if not runtime.startswith("python:") and k.distro_python.get(distro) not in (python, None):
        notes.append(f"{distro} ships Python {k.distro_python.get(distro)}; the build installs CPython {python} "
                     f"with uv {k.uv['version']} unless the base image already has it")
    return Base(runtime, builder, distro, notes)


def _missing_builder(ctx: Context, torch: TorchPlan) -> str:
    """Compiling needs a dev image the knowledge base has no row for: record the gap; the spec's `base`
    fills it (and serves the builder stage), else the search moves on to a variant that has one."""
    row = f"knowledge/rocm.toml [[variant]] {torch.variant}: dev_image is empty (no source named a rocm/dev tag " \
          f"for ROCm {torch.rocm})"
    supply = (f'to build with {torch.variant}, set variant = "{torch.variant}" and [image].base = a rocm/dev '
              f"image of ROCm {torch.rocm} (it serves the builder stage too; a [base-map] entry in "
              "~/.config/dockyard/config.toml can point it at a local copy), or add dev_image with its source to "
              "knowledge/rocm.toml")
    ctx.gaps.append(f"{row}; {supply}")
    if ctx.spec.base:
        return ctx.spec.base
    ctx.fail("variant", torch.variant, f"no rocm/dev image known for {torch.variant}, which compiling needs "
             f"({row}); {supply}", short=f"no rocm/dev image known for {torch.variant}, which compiling needs")
    return ""


def _check_base(ctx: Context, image: str, torch: TorchPlan) -> None:
    k = ctx.k
    family = k.targets[ctx.spec.target].family
    found = base_accelerator(image)
    if found is None:
        ctx.notes.append(f"dockyard cannot tell what accelerator {image} carries; it knows nvidia/cuda, NGC, "
                         "rocm/*, intel/*, TPU, python and distribution images by name")
        return
    if found.kind in ("cuda", "rocm", "xpu") and found.kind != family:
        ctx.fail("base", image, f"is a {found.kind} image, but target {ctx.spec.target} installs {family} wheels",
                 fixed=True)
    wheel_major = Version(torch.cuda).major if torch.cuda else None
    if found.kind == "cuda" and wheel_major is not None and found.version is not None \
            and found.version[0] != wheel_major:
        major, minor = found.version
        carried = f"{major}.{minor}" if minor is not None else f"{major}.x"
        ctx.fail("base", image, f"carries CUDA {carried}, but the {torch.variant} wheels need CUDA "
                 f"{wheel_major}.x; pick an nvidia/cuda {wheel_major}.x image")
    if family in ("cuda", "rocm") and found.kind == "cpu":
        ctx.notes.append(f"{image} has no GPU user space; fine for torch's self-contained wheels, but the NVIDIA "
                         "container toolkit's NVIDIA_* env is missing")
