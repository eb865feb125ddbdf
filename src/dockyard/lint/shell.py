"""A small, tolerant POSIX-shell tokenizer for RUN instructions.

It never raises: unbalanced quotes end at the end of the text. It splits a script into simple
commands (on `&&`, `||`, `;`, `|`, `&`, newlines and parentheses), keeps each word's raw text and
unquoted value, separates leading `NAME=value` assignments, records redirections (so that an unquoted
`>` inside a requirement can be spotted) and skips the bodies of nested heredocs and comments. Each command
keeps the control keywords written before it (`if`, `then`, `else`, `fi` ...) and the operator that joined
it to the one before (`&&`, `||`, `;`, `|`), so that a reader can follow which branch runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "!", "{", "}", "time"}
_WRAPPERS = {"sudo", "exec", "command", "nohup", "eval"}
_RUNNABLE = re.compile(
    r"^(?:.*/)?(?:pip\d*(?:\.\d+)?|python\d*(?:\.\d+)?|uv|env|conda|mamba|micromamba|apt-get|apt|git|curl|wget)$"
)


@dataclass
class Word:
    value: str  # quotes removed, escapes resolved, $-expressions kept verbatim
    raw: str  # as written
    offset: int  # position in the script
    quoted: bool = False


@dataclass
class Redirect:
    op: str
    target: str
    offset: int
    attached: bool  # no whitespace between the previous word and the operator (`torch>=2`)


@dataclass
class SimpleCommand:
    words: list[Word] = field(default_factory=list)
    assignments: dict[str, str] = field(default_factory=dict)
    redirects: list[Redirect] = field(default_factory=list)
    piped_from_previous: bool = False
    offset: int = 0
    keywords: list[str] = field(default_factory=list)  # control keywords before it: `fi`, `then`, `if` ...
    joined_by: str = ""  # the operator before it: "&&", "||", ";", "|", "&" or "" (a new line or the start)

    @property
    def argv(self) -> list[str]:
        return [w.value for w in self.words]

    @property
    def name(self) -> str:
        return self.words[0].value if self.words else ""


class _Tokenizer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.commands: list[SimpleCommand] = []
        self.current = SimpleCommand()
        self.pending_heredocs: list[tuple[str, bool]] = []
        self.next_piped = False
        self.joined_by = ""

    # -- command boundaries -------------------------------------------------------------------
    def finish(self, piped_next: bool = False, operator: str = "") -> None:
        cmd = self.current
        keywords: list[str] = []
        if cmd.words or cmd.assignments or cmd.redirects:
            cmd.piped_from_previous = self.next_piped
            cmd.joined_by = self.joined_by
            self.commands.append(cmd)
            self.next_piped = piped_next
        else:
            keywords = cmd.keywords  # `fi;` or `then` alone: they belong to the next command
            if not piped_next:
                self.next_piped = False
        self.joined_by = operator if (cmd.words or cmd.assignments or cmd.redirects) else (
            operator if operator in ("&&", "||") else self.joined_by)
        self.current = SimpleCommand(offset=self.pos, keywords=keywords)

    def add_word(self, word: Word) -> None:
        cmd = self.current
        if cmd.redirects and cmd.redirects[-1].target == "" and cmd.redirects[-1].op not in ("<<", "<<-"):
            cmd.redirects[-1].target = word.value
            return
        if cmd.redirects and cmd.redirects[-1].op in ("<<", "<<-") and cmd.redirects[-1].target == "":
            cmd.redirects[-1].target = word.value
            self.pending_heredocs.append((word.value, cmd.redirects[-1].op == "<<-"))
            return
        if not cmd.words:
            match = _ASSIGN.match(word.value) if not word.raw.startswith(("'", '"')) else None
            if match:
                cmd.assignments[match.group(1)] = match.group(2)
                return
            if word.value in _KEYWORDS and not word.quoted and not cmd.assignments:
                cmd.keywords.append(word.value)
                return
        cmd.words.append(word)

    # -- scanning -----------------------------------------------------------------------------
    def skip_heredoc_bodies(self) -> None:
        """Called after a newline: skip the bodies of heredocs opened on the previous line."""
        while self.pending_heredocs:
            delimiter, strip_tabs = self.pending_heredocs.pop(0)
            while self.pos < len(self.text):
                end = self.text.find("\n", self.pos)
                line = self.text[self.pos : end if end >= 0 else len(self.text)]
                self.pos = end + 1 if end >= 0 else len(self.text)
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break

    def read_word(self) -> Word:
        text, start = self.text, self.pos
        value: list[str] = []
        quoted = False
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\n;&|()<>":
                if ch in "<>" and value and "".join(value).isdigit() and not quoted:
                    break  # `2>` file-descriptor prefix: let the caller read the operator
                break
            if ch == "\\":
                nxt = text[self.pos + 1 : self.pos + 2]
                self.pos += 2
                if nxt != "\n":
                    value.append(nxt)
                continue
            if ch == "'":
                quoted = True
                end = text.find("'", self.pos + 1)
                end = len(text) if end < 0 else end
                value.append(text[self.pos + 1 : end])
                self.pos = end + 1
                continue
            if ch == '"':
                quoted = True
                self.pos += 1
                while self.pos < len(text) and text[self.pos] != '"':
                    if text[self.pos] == "\\" and self.pos + 1 < len(text):
                        nxt = text[self.pos + 1]
                        value.append(nxt if nxt in '"\\$`' else "\\" + nxt)
                        self.pos += 2
                        continue
                    if text.startswith("$(", self.pos):
                        value.append(self.read_substitution())
                        continue
                    value.append(text[self.pos])
                    self.pos += 1
                self.pos += 1
                continue
            if ch == "$" and text[self.pos + 1 : self.pos + 2] == "(":
                value.append(self.read_substitution())
                continue
            if ch == "`":
                end = text.find("`", self.pos + 1)
                end = len(text) if end < 0 else end
                value.append(text[self.pos : end + 1])
                self.pos = end + 1
                continue
            value.append(ch)
            self.pos += 1
        return Word("".join(value), text[start : self.pos], start, quoted)

    def read_substitution(self) -> str:
        """Read `$( ... )` with nesting; return it verbatim."""
        text, start = self.text, self.pos
        depth = 0
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    break
            elif ch == "'":
                end = text.find("'", self.pos + 1)
                self.pos = len(text) if end < 0 else end
            self.pos += 1
        return text[start : self.pos]

    def read_operator(self, attached: bool) -> None:
        text = self.text
        for op in ("<<<", "<<-", "&>>", ">>", "<<", ">&", "<&", "&>", ">|", "<>", ">", "<"):
            if text.startswith(op, self.pos):
                offset = self.pos
                self.pos += len(op)
                self.current.redirects.append(Redirect(op, "", offset, attached))
                if op in (">&", "<&"):
                    target = re.match(r"\d+|-", text[self.pos :])
                    if target:
                        self.current.redirects[-1].target = target.group(0)
                        self.pos += len(target.group(0))
                return
        self.pos += 1

    def run(self) -> list[SimpleCommand]:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t":
                self.pos += 1
                continue
            if ch == "\\" and text[self.pos + 1 : self.pos + 2] == "\n":
                self.pos += 2
                continue
            if ch == "\n":
                self.pos += 1
                self.finish()
                self.skip_heredoc_bodies()
                continue
            if ch == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
                continue
            if text.startswith("&&", self.pos) or text.startswith("||", self.pos):
                self.pos += 2
                self.finish(operator=text[self.pos - 2 : self.pos])
                continue
            if ch == "|":
                self.pos += 1
                self.finish(piped_next=True, operator="|")
                continue
            if ch in ";&()":
                if ch == "&" and text[self.pos + 1 : self.pos + 2] == ">":
                    self.read_operator(attached=False)
                    continue
                self.pos += 1
                self.finish(operator=ch if ch in ";&" else "")
                continue
            if ch in "<>":
                prev = text[self.pos - 1] if self.pos else " "
                self.read_operator(attached=prev not in " \t\n;&|()")
                continue
            word = self.read_word()
            if self.pos < len(text) and text[self.pos] in "<>" and word.raw.isdigit():
                self.read_operator(attached=False)  # `2>&1`: the digits are a file descriptor
                continue
            self.add_word(word)
        self.finish()
        return self.commands


def split_commands(script: str) -> list[SimpleCommand]:
    """Split a shell script into simple commands. Never raises."""
    try:
        commands = _Tokenizer(script).run()
    except (IndexError, ValueError, RecursionError):  # pragma: no cover - defensive
        return []
    for cmd in commands:
        _unwrap(cmd)
    return commands


def _unwrap(cmd: SimpleCommand) -> None:
    """Take off what only runs its arguments (`sudo`, `env A=1`, a wrapper script `sh fetch.sh pip ...`),
    in any order and nesting, so that the command that does the work comes first."""
    while True:
        before = len(cmd.words)
        while cmd.words and cmd.words[0].value in _WRAPPERS and len(cmd.words) > 1:
            cmd.words.pop(0)
        if (
            len(cmd.words) > 2
            and cmd.words[0].value.rsplit("/", 1)[-1] in ("sh", "bash")
            and cmd.words[1].value.endswith(".sh")
            and _RUNNABLE.match(cmd.words[2].value)
        ):
            del cmd.words[:2]
        if cmd.words and cmd.words[0].value == "env":
            cmd.words.pop(0)
            while cmd.words and (m := _ASSIGN.match(cmd.words[0].value)):
                cmd.assignments[m.group(1)] = m.group(2)
                cmd.words.pop(0)
        if len(cmd.words) == before:
            return


def strip_quotes(value: str) -> str:
    """Remove one level of matching quotes, as ENV/ARG values keep them in the parser's output."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
