"""Last builder step: remove what must not ship, check consistency, slim, keep the right bytecode.
All in the builder, so nothing removed here ever lands in a layer of the final image."""

from __future__ import annotations

from dockyard.render.blocks.common import SCRIPTS, RenderContext, script
from dockyard.render.instructions import Instruction, Run

STDLIB_LOADED = "/opt/dockyard/loaded-stdlib.txt"  # builder only: the root stage keeps these modules' bytecode


def finish(ctx: RenderContext) -> list[Instruction]:
    plan = ctx.plan
    commands = []
    if plan.uninstall:
        commands.append(f"pip uninstall -y {' '.join(plan.uninstall)}")
    commands.append("pip check")
    excluded = plan.excluded()
    if excluded:  # after the check: what a dependency brought in anyway goes, though it is declared
        commands.append(f"pip uninstall -y {' '.join(excluded)}")
    flags = [f"--venv {plan.venv}", f"--bytecode {plan.bytecode}"]
    if plan.slim:
        flags += ["--slim", "--strip"]
        if plan.profile not in ("runtime", "serve"):
            flags.append("--keep-tools")
    if plan.keep_torch_headers:
        flags.append("--keep-headers")
    if plan.bytecode == "loaded":
        flags += [f"--probe {SCRIPTS}/probe.py", f"--plan {SCRIPTS}/plan.json"]
        if plan.root_trim or plan.root_trim_paths:  # a slim serve image: its size is what a node pulls
            flags += ["--no-debug-ranges", f"--stdlib-list {STDLIB_LOADED}"]
    commands.append(f"python {SCRIPTS}/slim.py {' '.join(flags)}")
    commands += leave_transformers_for_job(ctx)
    first = "Packages that break this target removed, then a dependency check" if plan.uninstall else \
        "Dependency check"
    if excluded:
        first += f", then the spec's exclude removed ({', '.join(excluded)})"
    return [Run(tuple(commands), (script("slim.py"), script("probe.py"), script("plan.json")),
                comment=f"{first}, slim ({'on' if plan.slim else 'off'}) and bytecode ({plan.bytecode}): a warm-up "
                        "import and tiny model run doubles as a smoke test"
                        + ("; then transformers itself goes: the CI job installs the branch it tests"
                           if plan.transformers_for_job else ""))]


def leave_transformers_for_job(ctx: RenderContext) -> list[str]:
    """A CI image of the "branch under test" model keeps transformers' dependencies (installed, checked
    and warmed up with it above) and removes transformers itself, as transformers' own CI images do."""
    return ["pip uninstall -y transformers"] if ctx.plan.transformers_for_job else []
