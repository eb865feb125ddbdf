"""Follow a build's output: turn BuildKit plain-progress and Buildah lines into step events.

The parser is fed one line at a time and keeps the list of steps (label, status, seconds, cached),
which the live view, the plain view and the report read. No terminal code here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_BK_VERTEX = re.compile(r"^#(\d+) (\[.+)$")
_BK_OTHER = re.compile(r"^#(\d+) (exporting to image|writing image|naming to .*|exporting layers.*)$")
_BK_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_BK_CACHED = re.compile(r"^#(\d+) CACHED$")
_BK_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")
_BK_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_BUILDAH_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP (\d+)/(\d+): (.*)$")
_BUILDAH_CACHE = re.compile(r"^--> Using cache ")
_BUILDAH_ERROR = re.compile(r"^Error: (.*)$")


@dataclass
class Step:
    key: str
    label: str
    status: str = "running"  # running | done | cached | error
    started: float = 0.0
    seconds: float = 0.0
    last_line: str = ""

    @property
    def counts(self) -> bool:
        """Steps that do work (RUN, COPY, ADD), as opposed to metadata and internal steps."""
        instruction = self.label.split("] ", 1)[-1] if "] " in self.label else self.label.split(": ", 1)[-1]
        return instruction.split(" ", 1)[0].upper() in ("RUN", "COPY", "ADD")


@dataclass
class Progress:
    clock: Callable[[], float] = time.monotonic
    steps: list[Step] = field(default_factory=list)
    error: str = ""
    _by_key: dict[str, Step] = field(default_factory=dict)
    _buildah_current: Step | None = None

    def feed(self, line: str) -> Step | None:
        """Consume one output line; returns the step it changed, if any."""
        line = line.rstrip("\r\n")
        for parse in (self._buildkit, self._buildah):
            step = parse(line)
            if step is not None:
                return step
        return None

    def _add(self, key: str, label: str) -> Step:
        step = self._by_key.get(key)
        if step is None:
            step = Step(key, label, started=self.clock())
            self._by_key[key] = step
            self.steps.append(step)
        return step

    def _buildkit(self, line: str) -> Step | None:
        if match := _BK_VERTEX.match(line):
            return self._add(match[1], match[2])
        if match := _BK_OTHER.match(line):
            return self._add(match[1], match[2]) if match[1] not in self._by_key else None
        if (match := _BK_DONE.match(line)) and match[1] in self._by_key:
            step = self._by_key[match[1]]
            if step.status != "cached":
                step.status, step.seconds = "done", float(match[2])
            return step
        if (match := _BK_CACHED.match(line)) and match[1] in self._by_key:
            step = self._by_key[match[1]]
            step.status = "cached"
            return step
        if (match := _BK_ERROR.match(line)) and match[1] in self._by_key:
            step = self._by_key[match[1]]
            step.status, step.seconds = "error", self.clock() - step.started
            self.error = match[2]
            return step
        if (match := _BK_OUTPUT.match(line)) and match[1] in self._by_key:
            step = self._by_key[match[1]]
            step.last_line = match[2][-200:]
            return step
        return None

    def _buildah(self, line: str) -> Step | None:
        if match := _BUILDAH_STEP.match(line):
            self._finish_buildah("done")
            step = self._add(f"podman-{len(self.steps)}", match[3])
            self._buildah_current = step
            return step
        current = self._buildah_current
        if current is None:
            return None
        if _BUILDAH_CACHE.match(line):
            current.status = "cached"
            return current
        if match := _BUILDAH_ERROR.match(line):
            current.status = "error"
            current.seconds = self.clock() - current.started
            self.error = match[1]
            return current
        if line.startswith("COMMIT") or line.startswith("Successfully tagged"):
            self._finish_buildah("done")
            return None
        if line.strip() and not line.startswith("-->"):
            current.last_line = line[-200:]
        return current

    def _finish_buildah(self, status: str) -> None:
        current = self._buildah_current
        if current is not None and current.status == "running":
            current.status = status
            current.seconds = self.clock() - current.started
        self._buildah_current = None

    def finish(self, ok: bool) -> None:
        self._finish_buildah("done" if ok else "error")
        now = self.clock()
        for step in self.steps:
            if step.status == "running":
                step.status = "done" if ok else "error"
                step.seconds = now - step.started

    def cache_hits(self) -> tuple[int, int]:
        """(cached, total) over the steps that do work."""
        working = [s for s in self.steps if s.counts]
        return sum(1 for s in working if s.status == "cached"), len(working)

    def failed(self) -> Step | None:
        return next((s for s in self.steps if s.status == "error"), None)
