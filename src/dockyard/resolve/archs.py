"""GPU archs: what extensions compile for and the wheels must cover (the spec's, or the toolkit's
defaults), each checked against the wheel variant and the toolkit."""

from __future__ import annotations

from packaging.version import Version

from dockyard.knowledge import archs
from dockyard.resolve.context import Context
from dockyard.resolve.plan import TorchPlan


def resolve_gpu_archs(ctx: Context, torch: TorchPlan) -> tuple[str, ...]:
    spec, k = ctx.spec, ctx.k
    family = k.targets[spec.target].family
    if family not in ("cuda", "rocm"):
        if spec.gpu_archs:
            ctx.fail("gpu-archs", list(spec.gpu_archs), f"applies to cuda and rocm targets, not {spec.target}. "
                     'Nearest valid choices: remove gpu-archs, or set target = "cuda" or "rocm"', fixed=True)
        return ()
    if family == "rocm":
        rocm = k.rocm["archs"]
        rocm7 = torch.rocm is not None and Version(torch.rocm) >= Version("7.0")
        wanted = spec.gpu_archs or tuple(rocm["default_rocm7"] if rocm7 else rocm["default"])
        shipped = set(torch.wheel_archs)
        for arch in wanted:
            if not arch.startswith("gfx"):
                ctx.fail("gpu-archs", arch, "is a CUDA capability; rocm targets take gfx names such as gfx942",
                         fixed=True)
            elif arch in rocm.get("refuse", {}):  # listed for the wheels, fails on the hardware
                refusal = rocm["refuse"][arch]
                sources = "; ".join(k.rocm["sources"].get(name, name) for name in refusal["sources"])
                ctx.fail("gpu-archs", arch, f"{refusal['reason']} (source: {sources}). {refusal['suggest']}",
                         fixed=True)
            elif shipped and arch not in shipped:
                ctx.fail("gpu-archs", arch, f"is not built into the {torch.variant} wheels (they ship "
                         f"{';'.join(sorted(shipped))}; source: {k.rocm['sources']['pytorch-rocm-arch']})")
        return tuple(wanted)
    if torch.cuda is None:
        return tuple(spec.gpu_archs)
    variant = k.cuda_variants[torch.variant]
    toolkit = Version(variant.toolkit)
    wanted = spec.gpu_archs or k.default_cuda_archs(toolkit)
    for arch in wanted:
        if arch.startswith("gfx"):
            ctx.fail("gpu-archs", arch, "is a ROCm gfx target; cuda targets take compute capabilities like 9.0",
                     fixed=True)
            continue
        cc = archs.parse_cc(arch)
        row = k.cuda_gpus.get(cc.plain)
        if row is None:
            ctx.fail("gpu-archs", arch, f"is not a known compute capability (known: {', '.join(k.cuda_gpus)})",
                     fixed=True)
            continue
        if not archs.toolkit_supports(arch, toolkit, row["first_cuda"], row.get("last_cuda_major")):
            last = row.get("last_cuda_major")
            why = (f"CUDA {toolkit.major} dropped {row['name']} (last supported in CUDA {last}.x)"
                   if last is not None and toolkit.major > last
                   else f"{arch} needs CUDA {archs.first_toolkit(arch, row['first_cuda'])} or newer")
            ctx.fail("gpu-archs", arch, f"CUDA {variant.toolkit} of variant {torch.variant} cannot compile for sm "
                     f"{cc.plain}: {why} (source: {k.source_text(k.cuda_sources, list(row['sources']))})")
    return tuple(wanted)


