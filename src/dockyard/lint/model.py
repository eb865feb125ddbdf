"""The Dockerfile model the rules read: instructions, stages and variables.

Parsing (lint/parser.py) is done by the official BuildKit parser (the `dockerfile` binding); the model
adds what it does not give: upper-cased instruction names, stages with their resolved bases, ARG/ENV
scopes with variable expansion, the text of RUN scripts (heredocs included), and the suppression
comments found by the pre-scan.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from dockyard.lint.prescan import PreScan
from dockyard.lint.shell import strip_quotes

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_LENGTH = re.compile(r"\$\{#([A-Za-z_][A-Za-z0-9_]*)\}")
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/usr/bin/env", "/usr/bin/bash"}


def expand(text: str, env: Mapping[str, str | None], keep_unknown: bool = True, shell: bool = False) -> str:
    """Expand `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}` like BuildKit does for ARG/ENV.

    A variable that is unknown (not in `env`) is kept verbatim when `keep_unknown`; a variable that
    is declared without a value (`ARG X`) expands to the empty string. With `shell` (a RUN's words, which
    the shell expands), `${#VAR}` is the length of a known value too.
    """
    if shell and "${#" in text:
        text = _LENGTH.sub(lambda m: str(len(env.get(m.group(1)) or "")) if m.group(1) in env else m.group(0), text)

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        known = name in env
        value = env.get(name)
        if op in (":-", "-"):
            empty = value is None or (op == ":-" and value == "")
            if not known and op == ":-":
                return word
            return word if empty else (value or "")
        if op in (":+", "+"):
            set_ = value is not None and (op == "+" or value != "")
            return word if set_ else ""
        if not known:
            return match.group(0) if keep_unknown else ""
        return value or ""

    try:
        return _VAR.sub(repl, text)
    except (re.error, RecursionError):  # pragma: no cover - defensive
        return text


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str


@dataclass
class _EnvScan:
    chain: list[Instruction]
    positions: dict[int, int]  # id(instruction) -> its place in `chain`
    position: int = 0  # `env` holds what the instructions before this place set
    env: dict[str, str | None] = field(default_factory=dict)


@dataclass(eq=False)  # identity: two identical lines are still two instructions
class Instruction:
    cmd: str  # upper-cased; for ONBUILD the triggered instruction is in `sub_cmd`
    value: tuple[str, ...]
    flags: tuple[str, ...]
    original: str
    start_line: int
    end_line: int
    is_json: bool = False
    sub_cmd: str | None = None
    heredocs: tuple[Heredoc, ...] = ()
    stage: Stage | None = None
    index: int = 0

    @property
    def keyword(self) -> str:
        """The instruction that takes effect: `RUN` for `ONBUILD RUN`."""
        return self.sub_cmd.upper() if self.cmd == "ONBUILD" and self.sub_cmd else self.cmd

    def flag(self, name: str) -> list[str]:
        """Values of `--name=value` flags (e.g. `mount`, `from`, `checksum`)."""
        prefix = f"--{name}="
        return [f[len(prefix) :] for f in self.flags if f.startswith(prefix)]

    def pairs(self) -> list[tuple[str, str | None]]:
        """(name, value) pairs of ENV, ARG and LABEL, quotes removed; value None for `ARG X`."""
        if self.keyword == "ARG":
            out: list[tuple[str, str | None]] = []
            for item in self.value:
                name, sep, val = item.partition("=")
                out.append((name, strip_quotes(val) if sep else None))
            return out
        vals = list(self.value)
        return [(vals[i], strip_quotes(vals[i + 1])) for i in range(0, len(vals) - 1, 2)]

    @property
    def script(self) -> str:
        """The shell text of a RUN: the command line plus heredoc bodies that a shell runs."""
        if self.is_json:
            argv = list(self.value)
            if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and argv[1].startswith("-"):
                return argv[2]
            return " ".join(argv)
        line = " ".join(self.value)
        if not self.heredocs:
            return line
        stripped = re.sub(r"<<-?\s*['\"]?\w+['\"]?", " ", line)
        parts = [stripped]
        command = stripped.split()
        runs_shell = not command or command[0] in _SHELLS
        for doc in self.heredocs:
            if runs_shell:
                parts.append(doc.content)
        return "\n".join(parts)

    @property
    def heredoc_interpreter(self) -> str:
        """The program a RUN heredoc is fed to (`bash` in `RUN <<EOT bash`), or "" for none/the shell."""
        if not self.heredocs or self.is_json:
            return ""
        command = re.sub(r"<<-?\s*['\"]?\w+['\"]?", " ", " ".join(self.value)).split()
        return command[0].rsplit("/", 1)[-1] if command else ""

    @property
    def text(self) -> str:
        """Everything the instruction contains, heredoc bodies of any language included."""
        return "\n".join([" ".join(self.value), *(d.content for d in self.heredocs)])


@dataclass(eq=False)  # identity: `stage in chain` must not compare whole stages field by field
class Stage:
    index: int
    name: str | None  # lower-cased alias, after ARG expansion
    base: str  # FROM image after ARG expansion
    from_instruction: Instruction
    parent: Stage | None = None  # set when `base` names an earlier stage
    instructions: list[Instruction] = field(default_factory=list)

    def chain(self) -> list[Stage]:
        """This stage and the stages it is built FROM, root first."""
        out: list[Stage] = []
        stage: Stage | None = self
        while stage is not None and stage not in out:
            out.append(stage)
            stage = stage.parent
        return list(reversed(out))

    @property
    def root_base(self) -> str:
        """The external image this stage is built on, following `FROM <stage>` links."""
        return self.chain()[0].base

    @property
    def root_from(self) -> Instruction:
        return self.chain()[0].from_instruction

    def chain_instructions(self) -> Iterator[Instruction]:
        for stage in self.chain():
            yield from stage.instructions


@dataclass
class DockerfileModel:
    path: str
    text: str
    lines: list[str]
    prescan: PreScan
    instructions: list[Instruction] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    global_args: dict[str, str | None] = field(default_factory=dict)
    parse_error: str | None = None
    binary: bool = False  # not text at all (NUL bytes, not UTF-8): `parse_error` says why
    memo: dict[str, object] = field(default_factory=dict)  # analysis results shared by rules
    _scans: dict[int, _EnvScan] = field(default_factory=dict, repr=False)  # env_before's cursors by stage
    _starts: list[int] | None = field(default=None, repr=False)  # start lines, for instruction_at
    _names: dict[str, Stage] = field(default_factory=dict, repr=False)  # stage_named's index ...
    _named: int = field(default=0, repr=False)  # ... of the first _named stages

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_named(self, name: str) -> Stage | None:
        """The first stage of that name (an index kept as stages are added)."""
        for stage in self.stages[self._named :]:
            if stage.name is not None:
                self._names.setdefault(stage.name, stage)
        self._named = len(self.stages)
        return self._names.get(name.lower())

    def env_before(self, instruction: Instruction) -> dict[str, str | None]:
        """Variables visible to `instruction`: ARG and ENV of its stage chain, in order.

        ARG values are build-time defaults; a global ARG is only visible inside a stage when the
        stage redeclares it (`ARG NAME`), like BuildKit. Rules ask in file order, so each stage keeps
        a cursor: asking for every instruction of a file is one pass, not one pass per instruction.
        """
        stage = instruction.stage
        if stage is None:
            return dict(self.global_args)
        scan = self._scans.get(stage.index)
        if scan is None:
            chain = list(stage.chain_instructions())
            scan = self._scans[stage.index] = _EnvScan(chain, {id(i): n for n, i in enumerate(chain)})
        stop = scan.positions.get(id(instruction), len(scan.chain))
        if stop < scan.position:
            scan.position, scan.env = 0, {}
        for inst in scan.chain[scan.position : stop]:
            self._apply(stage, inst, scan.env)
        scan.position = stop
        return dict(scan.env)

    def _apply(self, stage: Stage, inst: Instruction, env: dict[str, str | None]) -> None:
        if inst.cmd == "ENV":
            for name, value in inst.pairs():
                env[name] = expand(value or "", env)
        elif inst.cmd == "ARG" and inst.stage is stage:  # ARG is scoped to its own stage; ENV is inherited
            for name, value in inst.pairs():
                if value is not None:
                    env[name] = expand(value, env)
                elif name in self.global_args:
                    env[name] = self.global_args[name]
                elif name not in env:
                    env[name] = None

    def instruction_at(self, line: int) -> Instruction | None:
        """The instruction whose lines hold `line`."""
        place = self.place_of_line(line)
        return None if place is None else self.instructions[place]

    def place_of_line(self, line: int) -> int | None:
        """Index in `instructions` of the one holding `line` (a binary search: they are in file order)."""
        if self._starts is None:
            self._starts = [i.start_line for i in self.instructions]
        place = bisect.bisect_right(self._starts, line) - 1
        if place >= 0 and self.instructions[place].start_line <= line <= self.instructions[place].end_line:
            return place
        return None

    def runs(self, stage: Stage | None = None) -> Iterator[Instruction]:
        """RUN instructions (ONBUILD RUN excluded), of one stage or of all."""
        source = stage.instructions if stage else self.instructions
        return (i for i in source if i.cmd == "RUN")

    def locate(self, instruction: Instruction, needle: str) -> tuple[int, int]:
        """(line, column) of the first `needle` inside the instruction's lines, else its start."""
        if needle:
            end = min(instruction.end_line, len(self.lines))
            for number in range(instruction.start_line, end + 1):
                col = self.lines[number - 1].find(needle)
                if col >= 0:
                    return number, col + 1
        return instruction.start_line, 1
