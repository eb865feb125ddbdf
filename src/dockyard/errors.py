"""The errors a user can cause or meet, each with a hint and an exit code.

The library raises these; only the CLI turns them into messages and exit codes. Exit codes:
0 ok, 1 failure (a build, a probe, lint findings at the fail level, an engine problem),
2 invalid or impossible input (spec, preset, option, version combination).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2


class DockyardError(Exception):
    """Base class: `message` says what is wrong (and where), `hint` what to do instead."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(DockyardError):
    """Invalid input: a malformed spec, an unknown key or value, a bad option. Exit 2."""

    exit_code = EXIT_INVALID


class SpecError(InputError):
    """A spec file or preset that cannot be read or validated."""


class ResolveError(InputError):
    """A spec that is well-formed but asks for a combination that cannot work.

    `problems` lists every conflict found, each already a full sentence with its source; `conflict` names
    the smallest set of the spec's own keys that cannot work together (the hint says what would).
    """

    def __init__(self, problems: list[str], hint: str | None = None, conflict: tuple[str, ...] = ()) -> None:
        self.problems = problems
        self.conflict = conflict  # the smallest set of the spec's keys that cannot work together
        message = problems[0] if len(problems) == 1 else "\n".join(f"- {p}" for p in problems)
        if len(problems) > 1:
            message = f"{len(problems)} problems:\n{message}"
        super().__init__(message, hint)


class EngineError(DockyardError):
    """No container engine, a daemon that does not answer, or a feature the engine lacks."""


class BuildError(DockyardError):
    """A build that ran and failed. `log_path` is the saved engine log."""

    def __init__(self, message: str, hint: str | None = None, log_path: str | None = None) -> None:
        super().__init__(message, hint)
        self.log_path = log_path


class VerifyError(DockyardError):
    """An image whose probes failed."""
