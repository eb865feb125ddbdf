"""The rule registry: code -> rule module. Codes are never reused; add new rules at the end."""

from __future__ import annotations

from types import ModuleType

from dockyard.lint.rules import (
    dy000,
    dy101,
    dy102,
    dy103,
    dy104,
    dy105,
    dy106,
    dy107,
    dy108,
    dy109,
    dy110,
    dy111,
    dy112,
    dy113,
    dy114,
    dy115,
    dy116,
)

RULES: dict[str, ModuleType] = {
    module.CODE: module
    for module in (
        dy000,
        dy101,
        dy102,
        dy103,
        dy104,
        dy105,
        dy106,
        dy107,
        dy108,
        dy109,
        dy110,
        dy111,
        dy112,
        dy113,
        dy114,
        dy115,
        dy116,
    )
}

__all__ = ["RULES"]
