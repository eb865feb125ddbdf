"""Explain a failed build: match its log against known failure signatures, find the failing step.

`explain_log(text)` understands the plain-progress logs of BuildKit (docker 20.10 `--progress=plain`
and buildx), the legacy docker builder, and podman/Buildah. `build` calls it when a build fails; the
`dockyard explain` command calls it on a saved log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.diagnose.signatures import SIGNATURES, Signature

TAIL_LINES = 20
MAX_EVIDENCE = 3

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BK_HEADER = re.compile(r"^#(\d+) (.*)$")
_BK_OUTPUT = re.compile(r"^#(\d+) (\d+\.\d+) ?(.*)$")
_BK_ERROR = re.compile(r"^#(\d+) ERROR:? (.*)$")
_BUILDX_ERROR_STEP = re.compile(r"^ERROR \[(.+?)\] (.*)$")
_SUMMARY_STEP = re.compile(r"^ > (\[.+?\] .*?):?$")
_PODMAN_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP (\d+)/(\d+): (.*)$")
_PODMAN_ERROR = re.compile(r"^Error: building at STEP \"(.*)\": (.*)$")
_LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_LEGACY_NOISE = re.compile(r"^ ---> |^Removing intermediate container |^Sending build context ")
_SUMMARY_TIME = re.compile(r"^\d+\.\d+ ")
_EXIT = re.compile(r"(?:exit code: |exit status |returned a non-zero code: )(\d+)")
# The lines an engine writes once the image is made: BuildKit's export (docker 20.10 and buildx), the
# legacy builder's and podman's last words.
_SUCCESS = re.compile(r"^#\d+ (?:writing image sha256:[0-9a-f]{12,}|naming to \S+)(?: done)?$"
                      r"|^Successfully (?:built [0-9a-f]{12,}|tagged \S+)$")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the log
    text: str  # without ANSI colours, carriage returns and BuildKit's "#12 3.456 " prefix
    step: str = ""  # the BuildKit vertex, podman STEP or legacy Step it belongs to ("" outside steps)


@dataclass(frozen=True)
class FailedStep:
    """The step that failed: its label as the engine printed it and its last lines of output."""

    label: str
    engine: str  # "buildkit", "podman", "legacy" or "" when unknown
    exit_code: int | None
    tail: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "engine": self.engine, "exit_code": self.exit_code, "tail": list(self.tail)}


@dataclass(frozen=True)
class Match:
    id: str
    title: str
    cause: str
    fix: str
    evidence: tuple[tuple[int, str], ...]  # (line number, text)
    details: dict[str, str] = field(default_factory=dict)
    in_failed_step: bool = False
    dockyard: str = ""  # dockyard's own way to apply the fix ("" when none)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "cause": self.cause, "fix": self.fix, "dockyard": self.dockyard,
                "evidence": [{"line": n, "text": t} for n, t in self.evidence], "details": self.details,
                "in_failed_step": self.in_failed_step}


@dataclass(frozen=True)
class Explanation:
    matches: tuple[Match, ...]
    step: FailedStep | None
    tail: tuple[str, ...]  # the failed step's last lines, or the log's when no step is known
    success: tuple[int, str] | None = None  # a log of a build that succeeded: the line that says so

    @property
    def known(self) -> bool:
        return bool(self.matches)

    @property
    def succeeded(self) -> bool:
        return self.success is not None

    def to_dict(self) -> dict[str, Any]:
        return {"known": self.known, "succeeded": self.succeeded, "matches": [m.to_dict() for m in self.matches],
                "failed_step": self.step.to_dict() if self.step else None, "tail": list(self.tail),
                "success": {"line": self.success[0], "text": self.success[1]} if self.success else None}


def success_line(text: str) -> tuple[int, str] | None:
    """The last line that says the image was made, when no line says a step failed (BuildKit's and
    podman's errors; the legacy builder prints no "Successfully" line after a failed step)."""
    found = None
    for number, raw in enumerate(text.split("\n"), start=1):
        clean = _clean(raw)
        if _BK_ERROR.match(clean) or _PODMAN_ERROR.match(clean) or clean.startswith(("ERROR: ", "Error: ")):
            return None
        if _SUCCESS.match(clean):
            found = (number, clean)
    return found


def _clean(raw: str) -> str:
    text = _ANSI.sub("", raw)
    if "\r" in text:  # progress redrawn in place: keep what was drawn last
        parts = [p for p in text.split("\r") if p.strip()]
        text = parts[-1] if parts else ""
    return text.rstrip()


def parse_log(text: str) -> tuple[list[Line], FailedStep | None]:
    """Split a build log into lines tagged with their step, and find the step that failed."""
    lines: list[Line] = []
    names: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    summary_steps: list[str] = []
    summary_output: list[str] = []
    engine = ""
    current = ""
    podman_error: tuple[str, str] | None = None
    in_summary = False
    for number, raw in enumerate(text.split("\n"), start=1):
        clean = _clean(raw)
        if clean == "------":
            in_summary = not in_summary
        elif in_summary:  # BuildKit repeats the failing step's last lines here, with their timestamps
            clean = _SUMMARY_TIME.sub("", clean)
            if not _SUMMARY_STEP.match(clean):
                summary_output.append(clean)
        if m := _BK_OUTPUT.match(clean):
            lines.append(Line(number, m.group(3), f"#{m.group(1)}"))
            continue
        if m := _BK_ERROR.match(clean):
            engine = "buildkit"
            errors.append((f"#{m.group(1)}", m.group(2)))
            lines.append(Line(number, m.group(2), f"#{m.group(1)}"))
            continue
        if m := _BK_HEADER.match(clean):
            engine = "buildkit"
            vertex, rest = f"#{m.group(1)}", m.group(2)
            names.setdefault(vertex, rest)  # BuildKit prints a vertex's name first
            lines.append(Line(number, rest, vertex))
            continue
        if m := _SUMMARY_STEP.match(clean):
            summary_steps.append(m.group(1))
        elif m := _BUILDX_ERROR_STEP.match(clean):
            summary_steps.append(f"[{m.group(1)}] {m.group(2)}")
        elif m := _PODMAN_STEP.match(clean):
            engine, current = "podman", f"STEP {m.group(1)}/{m.group(2)}: {m.group(3)}"
        elif m := _PODMAN_ERROR.match(clean):
            podman_error = (m.group(1), m.group(2))
        elif m := _LEGACY_STEP.match(clean):
            engine, current = "legacy", f"Step {m.group(1)}/{m.group(2)} : {m.group(3)}"
        elif _LEGACY_NOISE.match(clean):
            lines.append(Line(number, clean, ""))
            continue
        lines.append(Line(number, clean, current))
    step = _failed_step(lines, engine, names, errors, summary_steps, podman_error)
    if step is None and summary_steps:  # buildx without plain progress: only the summary names the step
        step = FailedStep(summary_steps[0], "buildkit", _exit_code(text), _tail(summary_output))
    return lines, step


def _tail(texts: Sequence[str]) -> tuple[str, ...]:
    kept = list(texts)
    while kept and not kept[-1].strip():
        kept.pop()
    return tuple(kept[-TAIL_LINES:])


def _exit_code(text: str) -> int | None:
    found = _EXIT.findall(text)
    return int(found[-1]) if found else None


def _failed_step(lines: list[Line], engine: str, names: dict[str, str], errors: list[tuple[str, str]],
                 summary_steps: list[str], podman_error: tuple[str, str] | None) -> FailedStep | None:
    if engine == "buildkit" and errors:
        vertex, message = errors[0]
        label = names.get(vertex, "")
        for step in summary_steps:  # the summary names the step whose error ended the build
            match = next((v for v, n in names.items() if n.rstrip(":") == step), None)
            if match and any(v == match for v, _ in errors):
                vertex, label = match, step
                message = next(m for v, m in errors if v == match)
                break
        output = [ln.text for ln in lines if ln.step == vertex and ln.text != label and ln.text != message]
        return FailedStep(label or vertex, "buildkit", _exit_code(message), _tail(output))
    if engine == "podman":
        steps = [ln.step for ln in lines if ln.step]
        label = steps[-1] if steps else ""
        if podman_error:
            label = next((s for s in reversed(steps) if s.endswith(": " + podman_error[0])), label)
        output = [ln.text for ln in lines if ln.step == label and ln.text != label
                  and not ln.text.startswith(("Error: building at STEP", "--> "))]
        code = _exit_code(podman_error[1]) if podman_error else None
        return FailedStep(label, "podman", code, _tail(output)) if label else None
    if engine == "legacy":
        steps = [ln.step for ln in lines if ln.step]
        label = steps[-1] if steps else ""
        output = [ln.text for ln in lines if ln.step == label and ln.text != label and ln.text.strip()]
        code = _exit_code("\n".join(output[-3:]))
        return FailedStep(label, "legacy", code, _tail(output)) if label else None
    return None


def _format(template: str, details: dict[str, str], defaults: dict[str, str]) -> str:
    values = {**defaults, **{k: v for k, v in details.items() if v}}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def _match(signature: Signature, lines: Sequence[Line], texts: Sequence[str], failed_lines: set[int]) -> Match | None:
    regexes = [re.compile(p) for p in signature.patterns]
    hits = [ln for ln in lines if any(r.search(ln.text) for r in regexes)]
    if not hits:
        return None
    for context in signature.context:
        if not any(re.search(context, t) for t in texts):
            return None
    evidence: list[tuple[int, str]] = []  # the first line each pattern matched
    for regex in regexes:
        ln = next((ln for ln in hits if regex.search(ln.text)), None)
        if ln and ln.text.strip() not in {t for _, t in evidence}:
            evidence.append((ln.number, ln.text.strip()))
    evidence = sorted(evidence)[:MAX_EVIDENCE]
    details = signature.extract(texts) if signature.extract else {}
    defaults = dict(signature.defaults)
    return Match(signature.id, signature.title, _format(signature.cause, details, defaults),
                 _format(signature.fix, details, defaults), tuple(evidence), details,
                 any(ln.number in failed_lines for ln in hits), _format(signature.dockyard, details, defaults))


def explain_log(text: str, signatures: Sequence[Signature] = SIGNATURES) -> Explanation:
    """Known causes of the failure in `text` (most specific first, those seen in the failing step
    before the others), the failing step, and the last lines to show when nothing is known."""
    if (success := success_line(text)) is not None:
        return Explanation((), None, (), success)  # nothing failed: no signature is a cause
    lines, step = parse_log(text)
    texts = [ln.text for ln in lines]
    failed_lines: set[int] = set()
    if step:
        vertex = next((ln.step for ln in lines if ln.text == step.label and ln.step), step.label)
        failed_lines = {ln.number for ln in lines if ln.step in (vertex, step.label)}
    found = [m for s in signatures if (m := _match(s, lines, texts, failed_lines))]
    excluded = {x for m in found for s in signatures if s.id == m.id for x in s.excludes}
    matches = [m for m in found if m.id not in excluded]
    matches.sort(key=lambda m: not m.in_failed_step)
    tail = step.tail if step and step.tail else _tail([t for t in texts if t.strip()])
    return Explanation(tuple(matches), step, tail)
