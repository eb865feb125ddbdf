"""Which commands of a RUN script run with the build's ARG defaults.

A RUN is a shell script: `if`/`elif`/`else` branches and `&&`/`||` lists decide what runs. This module
follows them, judging `[ ... ]`/`test` conditions over the values the script sees (ARG defaults, ENV,
earlier assignments): `[ "$FLASH_ATTN" != "false" ]` with `ARG FLASH_ATTN='false'` is false, so the
branch under it does not run. A condition it cannot judge (a file test, a pipeline into grep) is unknown,
and so is what depends on it; any other command is taken to succeed, as a build that goes on assumes.

Each command is `True` (runs), `False` (skipped) or `None` (unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.lint.shell import SimpleCommand

Tri = bool | None

_TESTS = {"[", "[[", "test"}
_NUMERIC = {"-eq": int.__eq__, "-ne": int.__ne__, "-gt": int.__gt__, "-ge": int.__ge__, "-lt": int.__lt__,
            "-le": int.__le__}


def both(a: Tri, b: Tri) -> Tri:
    """Three-valued AND."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def negate(a: Tri) -> Tri:
    return None if a is None else not a


def judge(words: list[str]) -> Tri:
    """The outcome of `[ ... ]`, `[[ ... ]]` or `test ...` over expanded words; None when it cannot tell."""
    if not words or words[0] not in _TESTS:
        return None
    args = words[1:]
    if words[0] in ("[", "[[") and args and args[-1] in ("]", "]]"):
        args = args[:-1]
    if any("$" in a or "`" in a for a in args):
        return None  # a value the reader does not know
    return _expression(args)


def _expression(args: list[str]) -> Tri:
    if args[:1] == ["!"]:
        return negate(_expression(args[1:]))
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, value = args
        return {"-n": value != "", "-z": value == ""}.get(op)
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op in _NUMERIC:
            try:
                return bool(_NUMERIC[op](int(left), int(right)))
            except ValueError:
                return None
    return None


@dataclass
class _Branch:
    taken: Tri = False  # an earlier branch of this `if` ran
    active: Tri = None  # the branch being read runs
    in_condition: bool = True


@dataclass
class Flow:
    """Walk the commands of one script in order: `enter` says whether a command runs, `leave` records
    how it ended (its exit status: True for success)."""

    frames: list[_Branch] = field(default_factory=list)
    status: Tri = True  # exit status of the list so far
    output: list[str] | None = None  # what the pipeline so far prints, when the reader can tell

    def status_of(self, cmd: SimpleCommand, words: list[str]) -> Tri:
        """The exit status of a command that runs, following small text pipelines (`printf '%s\\n' A B |
        sort -V | head -1 | grep -qx A`, the shell's version comparison)."""
        given = self.output if cmd.piped_from_previous else None
        self.output = pipe(words, given)
        if words and words[0] == "grep" and given is not None:
            return grep(words[1:], given)
        return status_of(words)

    def enter(self, cmd: SimpleCommand) -> Tri:
        for keyword in cmd.keywords:
            self._keyword(keyword)
        context: Tri = True
        for frame in self.frames:
            context = both(context, negate(frame.taken) if frame.in_condition else frame.active)
        if cmd.joined_by == "&&":
            return both(context, self.status)
        if cmd.joined_by == "||":
            return both(context, negate(self.status))
        return context

    def leave(self, cmd: SimpleCommand, reached: Tri, status: Tri) -> None:
        if "!" in cmd.keywords:
            status = negate(status)
        if reached is True:
            self.status = status
        elif reached is None:
            self.status = None if self.status != status else status

    def _keyword(self, keyword: str) -> None:
        if keyword == "if":
            self.frames.append(_Branch())
            self.status = True
        elif not self.frames:
            return
        elif keyword == "elif":
            self.frames[-1].in_condition = True
        elif keyword == "then":
            frame = self.frames[-1]
            frame.in_condition = False
            frame.active = both(negate(frame.taken), self.status)
            frame.taken = True if frame.taken is True or frame.active is True else (
                None if frame.taken is None or frame.active is None else False)
        elif keyword == "else":
            frame = self.frames[-1]
            frame.active = negate(frame.taken)
            frame.taken = True
        elif keyword == "fi":
            self.frames.pop()
            self.status = True


def _version_key(text: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.-]", text))


def pipe(words: list[str], given: list[str] | None) -> list[str] | None:
    """What printf, echo, sort, head and tail print, when every input is known; None otherwise."""
    if not words or any("$" in w or "`" in w for w in words):
        return None
    program, args = words[0], words[1:]
    if program == "echo":
        return [" ".join(a for a in args if a != "-n")]
    if program == "printf" and args and args[0] in ("%s\\n", "%s\n"):
        return args[1:]
    if given is None:
        return None
    if program == "sort":
        key = _version_key if any(a in ("-V", "--version-sort") for a in args) else None
        return sorted(given, key=key, reverse=any(a in ("-r", "--reverse") for a in args))
    if program in ("head", "tail"):
        count = next((int(a.lstrip("-n") or 0) for a in args if a.lstrip("-n").isdigit()), 10)
        return given[:count] if program == "head" else given[-count:] if count else []
    return None


def grep(args: list[str], given: list[str]) -> Tri:
    options = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    patterns = [a for a in args if not a.startswith("-")]
    if not patterns or set(options) - set("qxF"):
        return None
    pattern = patterns[0]
    return any(line == pattern if "x" in options else pattern in line for line in given)


def status_of(words: list[str]) -> Tri:
    """The exit status of a command that runs: a test is judged; true/false are what they say; a command
    whose outcome depends on the file system or on output (grep, a file test) is unknown only when it is
    a test; anything else is taken to succeed."""
    if not words:
        return True
    if words[0] in _TESTS:
        return judge(words)
    if words[0] in ("true", ":"):
        return True
    if words[0] == "false":
        return False
    if words[0] == "grep" and any(w.startswith("-") and "q" in w for w in words[1:]):
        return None
    return True
