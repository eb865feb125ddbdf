"""Reading what a probe printed: its report is the last JSON object on a line of its own."""

from __future__ import annotations

import json
from typing import Any


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of `text` that parses as a JSON object, or None when there is none."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                data: dict[str, Any] = json.loads(line)
                return data
            except json.JSONDecodeError:
                continue
    return None
