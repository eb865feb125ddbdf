"""Read the stages back from a Dockerfile that dockyard rendered, with the official BuildKit parser.

The Apptainer emitter translates what render produced rather than composing the blocks a second time,
so it follows every change to render. Only what dockyard's Dockerfiles use is understood: ARG, FROM,
ENV, LABEL, RUN (with --mount), COPY (--from, --chown), USER, WORKDIR, ENTRYPOINT, CMD, and a serve
image's EXPOSE and HEALTHCHECK (the emitter says in %help what stands in for them); anything else is
refused with a message, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dockerfile

from dockyard.errors import InputError
from dockyard.render.instructions import unquote_env


@dataclass(frozen=True)
class Step:
    keyword: str
    args: tuple[str, ...]
    flags: dict[str, str]  # --from, --chown, ... (not --mount)
    mounts: tuple[dict[str, str], ...] = ()
    comment: str = ""  # the comment lines right above the instruction

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """ENV / LABEL key-value pairs, values unquoted."""
        keys, values = self.args[0::2], self.args[1::2]
        return tuple((key, _unquote(value)) for key, value in zip(keys, values, strict=True))


@dataclass
class DockerStage:
    name: str
    base: str
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Parsed:
    global_args: dict[str, str]
    stages: dict[str, DockerStage]


def _unquote(value: str) -> str:
    return unquote_env(value)


def _options(text: str) -> dict[str, str]:
    result = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        result[key] = value
    return result


def _comment_above(lines: list[str], start_line: int) -> str:
    found: list[str] = []
    index = start_line - 2
    while index >= 0 and lines[index].startswith("#"):
        found.insert(0, lines[index][1:].strip())
        index -= 1
    return "\n".join(found)


SUPPORTED = {"ARG", "ENV", "LABEL", "RUN", "COPY", "USER", "WORKDIR", "ENTRYPOINT", "CMD", "EXPOSE", "HEALTHCHECK"}


def parse(text: str) -> Parsed:
    lines = text.splitlines()
    global_args: dict[str, str] = {}
    stages: dict[str, DockerStage] = {}
    current: DockerStage | None = None
    for command in dockerfile.parse_string(text):
        keyword = command.cmd.upper()
        if keyword == "FROM":
            base, _, name = (*command.value, "", "", "")[:3]
            current = DockerStage(name or base, base)
            stages[current.name] = current
            continue
        if current is None:
            if keyword == "ARG":
                name, _, default = command.value[0].partition("=")
                global_args[name] = default
            continue
        if keyword not in SUPPORTED:
            raise InputError(f"line {command.start_line}: {keyword} has no Apptainer translation in dockyard")
        flags: dict[str, str] = {}
        mounts = []
        for flag in command.flags:
            name, _, value = flag.lstrip("-").partition("=")
            if name == "mount":
                mounts.append(_options(value))
            else:
                flags[name] = value
        comment = _comment_above(lines, command.start_line) if keyword != "ARG" else ""
        current.steps.append(Step(keyword, tuple(command.value), flags, tuple(mounts), comment))
    return Parsed(global_args, stages)
