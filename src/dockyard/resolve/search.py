"""The search: the first combination of the open choices, in order of preference, that passes every rule.

Candidates come newest first: torch releases and their variants (pruned by what torch alone decides, in
resolve/torch.py), then for each the Pythons (pruned by what Python alone decides, in resolve/python.py);
transformers, add-ons, modalities, packages and the base are decided for each combination (attempt.py).
Keys the user set have one candidate. The search stops early when a problem holds whatever the open
keys are (Context.fixed). When the preferred combination was passed over, the plan says so in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dockyard.knowledge.loader import Knowledge
from dockyard.resolve.attempt import attempt
from dockyard.resolve.context import Context
from dockyard.resolve.plan import Plan
from dockyard.resolve.python import python_choices
from dockyard.resolve.refusal import UNINFORMATIVE, explain_torch_failure
from dockyard.resolve.torch import TorchCandidates, TorchChoice, torch_candidates
from dockyard.spec.model import ImageSpec


@dataclass
class Outcome:
    """A plan, or the problems of the preferred combination (the one a user would expect)."""

    plan: Plan | None
    problems: list[str] = field(default_factory=list)
    attempts: int = 0  # combinations tried (bench/resolve_speed.py prints them)


@dataclass
class _Skipped:
    items: list[tuple[str, str]] = field(default_factory=list)  # (candidate, why), in order of preference
    gaps: list[str] = field(default_factory=list)

    def add(self, label: str, ctx: Context) -> None:
        self.items.append((label, ctx.reasons[0] if ctx.reasons else ctx.problems[0]))
        self.gaps.extend(ctx.gaps)


def search(spec: ImageSpec, k: Knowledge, explain: bool = True) -> Outcome:
    first = Context(spec, k, explain=explain)
    found = TorchCandidates()
    skipped = _Skipped()
    failure: Context | None = None
    count = 0
    for choice in torch_candidates(first, found):
        if count == 0:  # what torch alone ruled out before the first candidate
            skipped.items += [(f"torch {v}", r) for v, r in found.rejected[:choice.after]
                              if not any(u in r for u in UNINFORMATIVE)]
        probe = Context(spec, k, explain=explain)
        probe.torch_version = choice.version
        pythons = python_choices(probe, choice.release)
        for python in pythons if not probe.problems else [None]:
            ctx = Context(spec, k, problems=list(first.problems), reasons=list(first.reasons),
                          fixed_count=first.fixed_count, explain=explain)
            count += 1
            plan = attempt(ctx, choice, python)
            if plan is not None:
                return Outcome(_with_notes(plan, choice, skipped), [], count)
            failure = failure or ctx
            if ctx.fixed:
                return Outcome(None, failure.problems, count)
            skipped.add(_label(choice, python if ctx.by_python else None, spec), ctx)
            if not ctx.by_python:
                break  # another Python would fail the same way
    if failure is None:  # no torch release fits
        if not first.problems:
            explain_torch_failure(first, found.rejected)
        attempt(first, TorchChoice(None, None, None))  # report the other problems of the spec at once
        return Outcome(None, first.problems, 1)
    return Outcome(None, failure.problems, count)


def _label(choice: TorchChoice, python: str | None, spec: ImageSpec) -> str:
    shown = choice.label()
    return f"{shown}, Python {python}" if python and not spec.python else shown


def _with_notes(plan: Plan, choice: TorchChoice, skipped: _Skipped) -> Plan:
    notes = list(plan.notes)
    if skipped.items:
        label, why = skipped.items[0]
        more = f" (and {len(skipped.items) - 1} more combinations)" if len(skipped.items) > 1 else ""
        chosen = _label(choice, plan.python, plan.spec)
        notes.insert(0, f"{label} skipped: {why}{more}; chose {chosen}")
    return replace(plan, notes=tuple(notes), gaps=tuple(dict.fromkeys((*skipped.gaps, *plan.gaps))))
