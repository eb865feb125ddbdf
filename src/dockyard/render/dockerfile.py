"""Emit a Dockerfile from stages. Deterministic: the same stages give byte-identical text."""

from __future__ import annotations

import re

from dockyard.errors import InputError
from dockyard.render.instructions import (
    Arg,
    Cmd,
    Comment,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Run,
    Stage,
    User,
    Workdir,
    arg_default,
    json_argv,
    quote_env,
)
from dockyard.spec.references import comment_lines, refuse_breaks

INDENT = "    "
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./@+=:,%-]+$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_FROM_WORD = re.compile(r"^[A-Za-z0-9_.:/@${}-]+$")


def comment(text: str) -> str:
    """Comment lines: every line a `#` line, whatever line breaks the text holds (str.splitlines knows
    more of them than the Dockerfile parser does, so no text can end a comment early)."""
    return "\n".join(f"# {line}".rstrip() for line in comment_lines(text)) or "#"


def emit_instruction(item: Instruction) -> str:
    if isinstance(item, Comment):
        return comment(item.text)
    if isinstance(item, Arg):
        where = f"ARG {item.name}"
        return f"ARG {item.name}" if item.default is None else f"ARG {item.name}={arg_default(item.default, where)}"
    if isinstance(item, Env):
        return _pairs("ENV", item.pairs)
    if isinstance(item, Label):
        return _pairs("LABEL", item.pairs)
    if isinstance(item, Run):
        return _run(item)
    if isinstance(item, Copy):
        flags = []
        if item.from_stage:
            flags.append(f"--from={item.from_stage}")
        if item.chown:
            flags.append(f"--chown={item.chown}")
        if item.chmod:
            flags.append(f"--chmod={item.chmod}")
        paths = [refuse_breaks(p, "a COPY path") for p in (*item.sources, item.dest)]
        if any(not _PLAIN_PATH.match(p) for p in paths):  # spaces, quotes, `$`: the JSON form takes them as is
            return " ".join(["COPY", *flags, json_argv(tuple(paths))])
        return " ".join(["COPY", *flags, *paths])
    if isinstance(item, User):
        return f"USER {item.user}"
    if isinstance(item, Workdir):
        return f"WORKDIR {item.path}"
    if isinstance(item, Entrypoint):
        return f"ENTRYPOINT {json_argv(item.argv)}"
    if isinstance(item, Cmd):
        return f"CMD {json_argv(item.argv)}"
    if isinstance(item, Expose):
        return f"EXPOSE {item.port}"
    if isinstance(item, Healthcheck):
        return (f"HEALTHCHECK --interval={item.interval}s --timeout={item.timeout}s "
                f"--start-period={item.start_period}s --retries={item.retries} \\\n{INDENT}CMD {json_argv(item.argv)}")
    raise TypeError(f"unknown instruction {item!r}")


def _pairs(keyword: str, pairs: tuple[tuple[str, str], ...]) -> str:
    if len(pairs) == 1:
        key, value = pairs[0]
        return f"{keyword} {_key(key)}={quote_env(value, f'{keyword} {key}')}"
    body = f" \\\n{INDENT}".join(f"{_key(key)}={quote_env(value, f'{keyword} {key}')}" for key, value in pairs)
    return f"{keyword} {body}"


def _key(key: str) -> str:
    if not _KEY.match(key):
        raise InputError(f"{key!r} is not a valid ENV or LABEL name", "use letters, digits, '.', '_' and '-'")
    return key


def _run(item: Run) -> str:
    for command in item.commands:  # a line break would end the RUN and start an instruction of its own
        refuse_breaks(command, "a RUN command")
    lines: list[str] = []
    if item.comment:
        lines.append(comment(item.comment))
    head = ["RUN", *(m.flag() for m in item.mounts)]
    if item.mounts:
        first = "RUN " + f" \\\n{INDENT}".join(m.flag() for m in item.mounts)
        body = f" \\\n{INDENT}&& ".join(item.commands)
        lines.append(f"{first} \\\n{INDENT}{body}")
    else:
        body = f" \\\n{INDENT}&& ".join(item.commands)
        lines.append(f"{head[0]} {body}")
    return "\n".join(lines)


def emit(header: str, global_args: tuple[Arg, ...], stages: tuple[Stage, ...]) -> str:
    parts = [comment(header)]
    if global_args:
        parts.append("\n".join(emit_instruction(a) for a in global_args))
    for stage in stages:
        block = []
        if stage.comment:
            block.append(comment(stage.comment))
        for word in (stage.base, stage.name):
            if not _FROM_WORD.match(word):
                raise InputError(f"FROM {stage.base} AS {stage.name}: {word!r} is not one image reference or name",
                                 "an image reference has no spaces, quotes or line breaks")
        block.append(f"FROM {stage.base} AS {stage.name}")
        for item in stage.instructions:
            block.append(emit_instruction(item))
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"
