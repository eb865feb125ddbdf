"""Quote a value spliced into a RUN so that the shell passes it on as data, whatever it holds.

The spec's grammars (spec/grammar.py, spec/references.py) keep shell syntax out of the values that
reach a RUN; this is the second wall. ENV, LABEL and ARG values are quoted by instructions.quote_env
and arg_default.
"""

from __future__ import annotations

import re
import shlex

_PLAIN_SHELL = re.compile(r"[A-Za-z0-9 _./:@+=,%~\[\]-]*")


def shell_word(value: str) -> str:
    """One shell word that the shell passes on as `value`: dockyard's usual double quotes when it holds
    only characters that no shell interprets, else single quotes (inside them nothing is special)."""
    return f'"{value}"' if _PLAIN_SHELL.fullmatch(value) else shlex.quote(value)
