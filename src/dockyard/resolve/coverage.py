"""The coverage matrix: for every target x profile x add-on, and every target x modality, what resolve
makes of the smallest spec asking for it (torch, variant, Python, base) or why nothing fits.

`claimed` says which cells the knowledge base claims possible (the add-on lists the target and no
unconditional refusal row excludes it); a test asserts that each of those resolves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import ResolveError
from dockyard.knowledge.loader import Knowledge
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.fields import PROFILES
from dockyard.spec.model import ImageSpec
from dockyard.spec.serve import ServeModel, ServeSpec

SOURCE = "coverage"
SERVED_MODEL = "/models/model"  # the serve column's model: mounted at run time (`[serve] model = "mount:..."`)
COMMIT = "0" * 40  # stands for "a commit you pin" for source add-ons the knowledge base pins none for
WHERE = re.compile(r"^\[(?:image|serve)\]\.[a-z-]+(?: = (?:'[^']*'|\[[^\]]*\]|\S+))?: ")


@dataclass(frozen=True)
class Cell:
    target: str
    profile: str
    addon: str  # "" for none
    modality: str  # "" for the default (text)
    plan: Plan | None
    reason: str  # why nothing resolves ("" when a plan does)

    def text(self) -> str:
        if self.plan is None:
            return f"no: {self.reason}"
        torch = self.plan.torch
        shown = f"torch {torch.version} ({torch.variant})" if torch.version else f"torch {torch.channel}"
        builder = f", builder `{self.plan.builder_base}`" if self.plan.builder_base != self.plan.runtime_base else ""
        return f"{shown}, Python {self.plan.python}, `{self.plan.runtime_base}`{builder}"


def addon_entry(k: Knowledge, name: str) -> str:
    """The spec entry for an add-on: a commit for a source add-on the knowledge base pins none for."""
    addon = k.addons[name]
    return f"{name}@{COMMIT}" if addon.source_url and not addon.default_ref else name


def claimed(k: Knowledge, target: str, addon: str) -> bool:
    """The knowledge base lists the target for the add-on and no refusal row without a CUDA condition
    (those are decided with the variant) excludes it."""
    if not addon:
        return True
    row = k.addons[addon]
    return target in row.targets and not any(
        "cuda" not in r.when and r.when.get("target", target) == target for r in row.refuse)


def cell(k: Knowledge, target: str, profile: str = "runtime", addon: str = "", modality: str = "") -> Cell:
    serve = ServeSpec(ServeModel("mount", SERVED_MODEL)) if profile == "serve" else None  # no model folder to read
    spec = ImageSpec(name="coverage", target=target, profile=profile,
                     addons=(addon_entry(k, addon),) if addon else (),
                     modalities=(modality,) if modality else ("text",), source=SOURCE, serve=serve)
    try:
        return Cell(target, profile, addon, modality, resolve(spec, k, explain=False), "")
    except ResolveError as exc:
        first = WHERE.sub("", exc.problems[0].removeprefix(f"{SOURCE}: "))
        return Cell(target, profile, addon, modality, None, _fact(first))


def _fact(problem: str) -> str:
    """The fact without its source (the matrix names the fact; `dockyard check` on the spec its source)."""
    text = problem.split("source: ")[0].rstrip("; (")
    return text + ")" * (text.count("(") - text.count(")"))


def cells(k: Knowledge) -> list[Cell]:
    found = [cell(k, t, p, a) for t in k.targets for p in PROFILES for a in ("", *sorted(k.addons))]
    found += [cell(k, t, modality=m) for t in k.targets for m in sorted(k.modalities)]
    return found


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def coverage_md(k: Knowledge | None = None, generated: str = "") -> str:
    k = k or Knowledge.load()
    every = cells(k)
    lines = ["# Coverage", "", generated, "",
             "What `dockyard check` resolves for the smallest spec asking for each target, profile and add-on "
             "(`[image]` with only `target`, `profile` and `addons = [ADD-ON]`; the serve profile with "
             f"`[serve] model = \"mount:{SERVED_MODEL}\"`), and for each modality "
             "(`modalities = [MODALITY]`): the torch release and wheel variant, Python and base image it "
             "chooses, or why nothing fits (`dockyard check` on that spec names the source of each fact). "
             "Source add-ons with no pinned commit are resolved as `NAME@<commit>`. A test asserts that every "
             "cell the knowledge base claims possible resolves.", ""]
    for target in k.targets:
        lines += [f"## {target}", "", "| add-on | " + " | ".join(PROFILES) + " |",
                  "|---|" + "---|" * len(PROFILES)]
        for addon in ("", *sorted(k.addons)):
            row = [c for c in every if c.target == target and c.addon == addon and not c.modality]
            by_profile = {c.profile: c.text() for c in row}
            lines.append(f"| {addon or '(none)'} | " + " | ".join(_md(by_profile[p]) for p in PROFILES) + " |")
        lines.append("")
    lines += ["## Modalities", "", "Profile `runtime`, no add-on.", "",
              "| modality | " + " | ".join(k.targets) + " |", "|---|" + "---|" * len(k.targets)]
    for modality in sorted(k.modalities):
        by_target = {c.target: c.text() for c in every if c.modality == modality}
        lines.append(f"| {modality} | " + " | ".join(_md(by_target[t]) for t in k.targets) + " |")
    return "\n".join(lines) + "\n"
