"""A slim serve image's root file system: the base stage without what serving never runs or loads
(knowledge/serve.toml [[root-trim.rows]]). The final stage then starts from scratch with a copy of it,
so what was removed is not carried in a lower layer."""

from __future__ import annotations

from dockyard.knowledge.serving import serve_knowledge
from dockyard.render.blocks.common import SCRIPTS, RenderContext, script
from dockyard.render.blocks.finish import STDLIB_LOADED
from dockyard.render.instructions import BindMount, Comment, Copy, Instruction, Run

LIST = "dockyard/root-trim.txt"


def trimmed(ctx: RenderContext) -> bool:
    return bool(ctx.plan.root_trim or ctx.plan.root_trim_paths)


def trim_list(ctx: RenderContext) -> str:
    """What root-trim.sh reads: `package NAME`, `path GLOB` and `keep NAME` lines, each row's reason above."""
    plan = ctx.plan
    sk = serve_knowledge()
    lines = ["# dockyard: what this serve image's root leaves out of its base (knowledge/serve.toml)"]
    lines += [f"keep {sk.root_keep}"] if sk.root_keep else []
    for row in sk.root_trim:
        packages = [p for p in row.packages if p in plan.root_trim]
        paths = [p for p in row.paths if p in plan.root_trim_paths]
        if packages or paths:
            lines += [f"# {row.name}: {row.why}", *(f"path {p}" for p in paths), *(f"package {p}" for p in packages)]
    return "\n".join(lines) + "\n"


def root_stage(ctx: RenderContext) -> list[Instruction]:
    ctx.add_file(LIST, trim_list(ctx))
    loaded = ctx.plan.bytecode == "loaded"
    argv = f"sh {SCRIPTS}/root-trim.sh {SCRIPTS}/root-trim.txt" + (f" {SCRIPTS}/loaded-stdlib.txt" if loaded else "")
    mounts = (script("root-trim.sh"), BindMount(LIST, f"{SCRIPTS}/root-trim.txt"),
              *((BindMount(STDLIB_LOADED, f"{SCRIPTS}/loaded-stdlib.txt", from_stage="builder"),) if loaded else ()))
    return [Run((argv,), mounts,
                comment="Purge what a served model never runs (apt, perl, shell and admin tools), remove "
                        "documentation and the standard library's bytecode the builder's warm-up did not load; "
                        "the build fails if anything left links what went")]


def root_copy() -> list[Instruction]:
    # hadolint's DL3067 warns that copying a whole file system is usually a mistake: here it is the point
    # (the final image is the trimmed root, flattened into one layer, plus what follows).
    return [Comment("The trimmed root as the first layer; what it left out is not in a layer below"),
            Comment("hadolint ignore=DL3067"), Copy(("/",), "/", from_stage="root")]
