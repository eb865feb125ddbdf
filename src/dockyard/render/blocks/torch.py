"""torch and its companions from the variant's wheel index (--index-url: no index race decides the
variant), then a constraints file that keeps every later install from replacing them."""

from __future__ import annotations

from dockyard.render.blocks.common import (
    CONSTRAINTS,
    PIP_INDEX,
    RenderContext,
    fetch_mounts,
    lock_part,
    locked_install,
    pip_install,
)
from dockyard.render.instructions import Arg, BindMount, Instruction, Run

WHEELS = "/wheels"


def arg_name(package: str) -> str:
    return package.upper().replace("-", "_") + "_VERSION"


def torch_args(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Arg("PIP_INDEX_URL", PIP_INDEX)]
    index = Arg("TORCH_INDEX_URL", torch.index_url.replace(f"/{torch.variant}", "/${TORCH_VARIANT}"))
    if ctx.options.lock is not None:  # versions come from the lock: no ARG that would seem to change them
        return [Arg("PIP_INDEX_URL", PIP_INDEX), Arg("TORCH_VARIANT", torch.variant), index]
    items: list[Instruction] = [
        Arg("PIP_INDEX_URL", PIP_INDEX),
        Arg("TORCH_VERSION", torch.version or ""),
        Arg("TORCH_VARIANT", torch.variant),
        index,
    ]
    items += [Arg(arg_name(c.name), c.version or "") for c in torch.companions]
    return items


def torch_install(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Run((f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", f"touch {CONSTRAINTS}"),
                    comment="No torch in this image: an empty constraints file")]
    names = ["torch", *(c.name for c in torch.companions)]
    record = ("python -c \"from importlib.metadata import version; "
              f"print('\\n'.join(n + '==' + version(n) for n in {names!r}))\" > {CONSTRAINTS}")
    lock = ctx.options.lock
    if lock is not None:
        family = lock.subset(lock.torch_family or names)
        mount = lock_part(ctx, "lock-torch.txt", family, "torch and its companions from the lock")
        return [Run(
            (locked_install(ctx, "lock-torch.txt", f'--index-url "${{TORCH_INDEX_URL}}" --find-links {WHEELS} '),
             f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", record),
            fetch_mounts(ctx, BindMount("wheels", WHEELS), mount),
            comment=f"{', '.join(p.requirement() for p in family)} from the lock, hash-checked, from "
                    f"{torch.index_url} (a local wheelhouse bound at /wheels is tried first); the constraints file "
                    "pins what was installed",
        )]
    if torch.channel == "nightly":
        requirements = " ".join(names)
        pre = "--pre "
    else:
        requirements = " ".join(f'"{n}==${{{arg_name(n)}}}"' for n in names)
        pre = ""
    return [Run(
        (pip_install(ctx, f'{pre}--index-url "${{TORCH_INDEX_URL}}" --find-links {WHEELS} {requirements}'),
         f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", record),
        fetch_mounts(ctx, BindMount("wheels", WHEELS)),
        comment=f"torch {torch.version or '(nightly)'} for {torch.variant} from {torch.index_url} (a local wheelhouse "
                "bound at /wheels is tried first); the constraints file pins what was installed",
    )]
