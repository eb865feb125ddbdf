"""Terminal output shared by the command modules: errors, warnings, JSON, tables."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from dockyard.errors import DockyardError

stdout = Console(highlight=False, soft_wrap=True, emoji=False)  # values print literally: no :x: emoji codes
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def view_mode(mode: str) -> str:
    """`--progress auto|live|plain`: auto is a live view on a terminal, one line per change otherwise."""
    if mode != "auto":
        return mode
    return "live" if stderr.is_terminal else "plain"


def print_error(exc: DockyardError) -> None:
    stderr.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        stderr.print(f"  [bold]hint:[/] {escape(exc.hint)}")
    log_path = getattr(exc, "log_path", None)
    if log_path:
        stderr.print(f"  [bold]log:[/] {escape(str(log_path))}")


def print_warning(message: str) -> None:
    stderr.print(f"[bold yellow]warning:[/] {escape(message)}")


def print_note(message: str) -> None:
    stderr.print(f"[dim]note:[/] {escape(message)}")


def print_gap(message: str) -> None:
    stderr.print(f"[bold cyan]gap:[/] {escape(message)}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def escape(text: str) -> str:
    """Escape rich markup in text that comes from users, files or engines."""
    from rich.markup import escape as rich_escape

    return rich_escape(no_controls(text))


def no_controls(text: str) -> str:
    """Control characters from users, files or engines shown as escapes (an ESC would reach the terminal)."""
    if all(c.isprintable() or c in "\n\t" for c in text):
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii") for c in text)
