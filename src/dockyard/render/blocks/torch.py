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


def index_arg(package: str) -> str:
    return package.upper().replace("-", "_") + "_INDEX_URL"


def from_torch_index(ctx: RenderContext) -> list[str]:
    """What the torch step installs from torch's index: torch, its companions and add-ons built for it."""
    plan = ctx.plan
    return ["torch", *(c.name for c in plan.torch.companions if not c.index_url),
            *(a.requirement.split("==")[0] for a in plan.addons if a.index_url)]


def other_indexes(ctx: RenderContext) -> list[tuple[str, str, str]]:
    """(package, ARG of its index, index URL) of each companion that comes from another wheel index."""
    return [(c.name, index_arg(c.name), c.index_url) for c in ctx.plan.torch.companions if c.index_url]


def torch_args(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Arg("PIP_INDEX_URL", PIP_INDEX)]
    index = Arg("TORCH_INDEX_URL", torch.index_url.replace(f"/{torch.variant}", "/${TORCH_VARIANT}"))
    if ctx.options.lock is not None:  # versions come from the lock: no ARG that would seem to change them
        return [Arg("PIP_INDEX_URL", PIP_INDEX), Arg("TORCH_VARIANT", torch.variant), index,
                *(Arg(arg, url) for _, arg, url in other_indexes(ctx))]
    items: list[Instruction] = [
        Arg("PIP_INDEX_URL", PIP_INDEX),
        Arg("TORCH_VERSION", torch.version or ""),
        Arg("TORCH_VARIANT", torch.variant),
        index,
    ]
    items += [Arg(arg_name(c.name), c.version or "") for c in torch.companions]
    items += [Arg(arg_name(a.requirement.split("==")[0]), a.version or "") for a in ctx.plan.addons if a.index_url]
    items += [Arg(arg, url) for _, arg, url in other_indexes(ctx)]
    return items


def torch_install(ctx: RenderContext) -> list[Instruction]:
    torch = ctx.plan.torch
    if torch.build == "none":
        return [Run((f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", f"touch {CONSTRAINTS}"),
                    comment="No torch in this image: an empty constraints file")]
    names = from_torch_index(ctx)
    others = other_indexes(ctx)
    recorded = [*names, *(name for name, _, _ in others)]
    record = ("python -c \"from importlib.metadata import version; "
              f"print('\\n'.join(n + '==' + version(n) for n in {recorded!r}))\" > {CONSTRAINTS}")
    lock = ctx.options.lock
    if lock is not None:
        family = lock.subset(lock.torch_family or recorded)
        mount = lock_part(ctx, "lock-torch.txt", family, "torch and its companions from the lock")
        extra = "".join(f'--extra-index-url "${{{arg}}}" ' for _, arg, _ in others)
        return [Run(
            (locked_install(ctx, "lock-torch.txt", f'--index-url "${{TORCH_INDEX_URL}}" {extra}--find-links {WHEELS} '),
             f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", record),
            fetch_mounts(ctx, BindMount("wheels", WHEELS), mount),
            comment=f"{', '.join(p.requirement() for p in family)} from the lock, hash-checked, from "
                    f"{torch.index_url} (a local wheelhouse bound at /wheels is tried first); the constraints file "
                    "pins what was installed",
        )]
    pre = "--pre " if torch.channel == "nightly" else ""

    def wanted(name: str) -> str:
        return name if pre else f'"{name}==${{{arg_name(name)}}}"'

    commands = [pip_install(ctx, f'{pre}--index-url "${{TORCH_INDEX_URL}}" --find-links {WHEELS} '
                                 f'{" ".join(wanted(n) for n in names)}')]
    # a companion from another index: its one dependency, torch, is installed, so nothing else is resolved there
    commands += [pip_install(ctx, f'{pre}--no-deps --index-url "${{{arg}}}" --find-links {WHEELS} {wanted(name)}')
                 for name, arg, _ in others]
    elsewhere = "".join(f"; {name} from {url}" for name, _, url in others)
    return [Run(
        (*commands, f"mkdir -p {CONSTRAINTS.rsplit('/', 1)[0]}", record),
        fetch_mounts(ctx, BindMount("wheels", WHEELS)),
        comment=f"torch {torch.version or '(nightly)'} for {torch.variant} from {torch.index_url}{elsewhere} (a local "
                "wheelhouse bound at /wheels is tried first); the constraints file pins what was installed",
    )]
