"""torch and its companions from the variant's wheel index (--index-url: no index race decides the
variant), then a constraints file that keeps every later install from replacing them."""

from __future__ import annotations

from dockyard.blocks.common import CONSTRAINTS, PIP_INDEX, RenderContext, fetch_mounts, pip_install
from dockyard.instructions import Arg, BindMount, Instruction, Run

WHEELS = "/wheels"


def arg_name(package: str) -> str:
    return package.upper().replace("-", "_") + "_VERSION"


def torch_args(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Arg("PIP_INDEX_URL", PIP_INDEX)]
    items: list[Instruction] = [
        Arg("PIP_INDEX_URL", PIP_INDEX),
        Arg("TORCH_VERSION", torch.version or ""),
        Arg("TORCH_VARIANT", torch.variant),
        Arg("TORCH_INDEX_URL", torch.index_url.replace(f"/{torch.variant}", "/${TORCH_VARIANT}")),
    ]
    items += [Arg(arg_name(c.name), c.version or "") for c in torch.companions]
    return items


def torch_install(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Run((f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", f"touch {CONSTRAINTS}"),
                    comment="No torch in this image: an empty constraints file")]
    names = ["torch", *(c.name for c in torch.companions)]
    if torch.channel == "nightly":
        requirements = " ".join(names)
        pre = "--pre "
    else:
        requirements = " ".join(f'"{n}==${{{arg_name(n)}}}"' for n in names)
        pre = ""
    record = ("python -c \"from importlib.metadata import version; "
              f"print('\\n'.join(n + '==' + version(n) for n in {names!r}))\" > {CONSTRAINTS}")
    return [Run(
        (pip_install(ctx, f'{pre}--index-url "${{TORCH_INDEX_URL}}" --find-links {WHEELS} {requirements}'),
         f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", record),
        fetch_mounts(ctx, BindMount("wheels", WHEELS)),
        comment=f"torch {torch.version or '(nightly)'} for {torch.variant} from {torch.index_url} (a local wheelhouse "
                "bound at /wheels is tried first); the constraints file pins what was installed",
    )]
