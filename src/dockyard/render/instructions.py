"""Typed Dockerfile instructions and stages. Blocks produce them; emitters turn them into text.

Instructions carry data, not formatting: a Run holds its commands, mounts and inline environment, so
the Dockerfile emitter can lay them out one per line and the Apptainer emitter can reuse the commands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.spec.references import refuse_breaks


@dataclass(frozen=True)
class CacheMount:
    target: str
    id: str = ""
    sharing: str = "locked"

    def flag(self) -> str:
        parts = ["type=cache", f"target={self.target}"]
        if self.id:
            parts.append(f"id={self.id}")
        if self.sharing:
            parts.append(f"sharing={self.sharing}")
        return "--mount=" + ",".join(parts)


@dataclass(frozen=True)
class SecretMount:
    id: str
    target: str = ""

    def flag(self) -> str:
        parts = ["type=secret", f"id={self.id}"]
        if self.target:
            parts.append(f"target={self.target}")
        return "--mount=" + ",".join(parts)


@dataclass(frozen=True)
class BindMount:
    source: str
    target: str
    from_stage: str = ""

    def flag(self) -> str:
        parts = ["type=bind"]
        if self.from_stage:
            parts.append(f"from={self.from_stage}")
        parts += [f"source={self.source}", f"target={self.target}"]
        return "--mount=" + ",".join(parts)


Mount = CacheMount | SecretMount | BindMount


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Arg:
    name: str
    default: str | None = None


@dataclass(frozen=True)
class Env:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Label:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Run:
    """One RUN: commands joined with &&, each on its own line. `env` prefixes the whole command list."""

    commands: tuple[str, ...]
    mounts: tuple[Mount, ...] = ()
    comment: str = ""


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    dest: str
    from_stage: str = ""
    chown: str = ""
    chmod: str = ""


@dataclass(frozen=True)
class User:
    user: str


@dataclass(frozen=True)
class Workdir:
    path: str


@dataclass(frozen=True)
class Entrypoint:
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Cmd:
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Expose:
    port: int


@dataclass(frozen=True)
class Healthcheck:
    """HEALTHCHECK in exec form; times in seconds."""

    argv: tuple[str, ...]
    interval: int = 10
    timeout: int = 5
    start_period: int = 60
    retries: int = 3


Instruction = Comment | Arg | Env | Label | Run | Copy | User | Workdir | Entrypoint | Cmd | Expose | Healthcheck


@dataclass(frozen=True)
class Stage:
    name: str
    base: str
    instructions: tuple[Instruction, ...] = ()
    comment: str = ""


@dataclass
class StageBuilder:
    """Collects instructions for one stage in order."""

    name: str
    base: str
    comment: str = ""
    items: list[Instruction] = field(default_factory=list)

    def add(self, *instructions: Instruction) -> StageBuilder:
        self.items.extend(instructions)
        return self

    def build(self) -> Stage:
        return Stage(self.name, self.base, tuple(self.items), self.comment)


# ARG defaults written unquoted: safe characters, and `${NAME}` references dockyard writes to other ARGs
_PLAIN_ARG = re.compile(r"^(?:[A-Za-z0-9_.,:/@+=%-]|\$\{[A-Z_][A-Z0-9_]*\})*$")


def quote_env(value: str, where: str = "an ENV or LABEL value") -> str:
    """Quote an ENV/LABEL/ARG value for a Dockerfile: double quotes, with `\\`, `"` and `$` escaped (the
    Dockerfile lexer expands `$VAR` inside double quotes; `\\$` is a literal dollar). Line breaks are refused."""
    refuse_breaks(value, where)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def unquote_env(text: str) -> str:
    """The value a Dockerfile lexer reads from a word written by `quote_env` (or a plain word)."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text
    out: list[str] = []
    body = text[1:-1]
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body) and body[index + 1] in '"$\\':
            out.append(body[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def arg_default(value: str, where: str = "an ARG default") -> str:
    """An ARG default as written after `=`: plain when it is only safe characters (a `${NAME}` there is
    dockyard's own reference to another ARG), else quoted like an ENV value."""
    refuse_breaks(value, where)
    return value if _PLAIN_ARG.match(value) else quote_env(value, where)


def json_argv(argv: tuple[str, ...]) -> str:
    return json.dumps(list(argv), ensure_ascii=False)
