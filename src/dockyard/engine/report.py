"""The build report: image id, tags, size, per-layer sizes with the instruction that made each,
cache hits, wall time, and where the full log is."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from dockyard.engine.backends import Backend, Layer


@dataclass(frozen=True)
class LayerRow:
    size: int
    instruction: str


@dataclass
class BuildReport:
    name: str
    image_id: str
    tags: list[str]
    size: int
    layers: list[LayerRow]
    cached_steps: int
    total_steps: int
    wall_seconds: float
    log_path: str
    engine: str
    context: str = ""
    verify: dict[str, Any] | None = None
    sbom: str = ""  # CycloneDX SBOM written next to the log
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_BUILDKIT_SUFFIX = re.compile(r"\s*# buildkit$")
_ARGS_PREFIX = re.compile(r"^\|\d+ (?:\S+=\S* )*")
_MOUNTS = re.compile(r"--mount=\S+\s*")


def without_mounts(text: str) -> str:
    """`RUN --mount=... --mount=... cmd` -> `RUN cmd`: the mounts make labels unreadable, not informative."""
    return " ".join(_MOUNTS.sub("", text).split())


def instruction_text(created_by: str, limit: int = 160) -> str:
    """Make a history entry read like the Dockerfile line that produced it."""
    text = _BUILDKIT_SUFFIX.sub("", created_by.strip())
    text = _NOP.sub("", text)
    text = _ARGS_PREFIX.sub("", text)
    text = text.replace("/bin/sh -c ", "RUN ", 1) if text.startswith("/bin/sh -c ") else text
    text = without_mounts(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layer_rows(layers: list[Layer]) -> list[LayerRow]:
    return [LayerRow(layer.size, instruction_text(layer.created_by)) for layer in layers]


def make_report(backend: Backend, name: str, image: str, tags: list[str], cached: int, total: int,
                seconds: float, log_path: str, context: str) -> BuildReport:
    data = backend.inspect(image) or {}
    layers = layer_rows(backend.history(image))
    image_id = str(data.get("Id", image))
    size = int(data.get("Size", 0) or 0)
    return BuildReport(name, image_id, tags, size, layers, cached, total, round(seconds, 1), log_path,
                       backend.engine.describe(), context)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
