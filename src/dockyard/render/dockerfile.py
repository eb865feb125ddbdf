"""Emit a Dockerfile from stages. Deterministic: the same stages give byte-identical text."""

from __future__ import annotations

from dockyard.render.instructions import (
    Arg,
    Cmd,
    Comment,
    Copy,
    Entrypoint,
    Env,
    Instruction,
    Label,
    Run,
    Stage,
    User,
    Workdir,
    json_argv,
    quote_env,
)

INDENT = "    "


def emit_instruction(item: Instruction) -> str:
    if isinstance(item, Comment):
        return "\n".join(f"# {line}".rstrip() for line in item.text.splitlines())
    if isinstance(item, Arg):
        return f"ARG {item.name}" if item.default is None else f"ARG {item.name}={item.default}"
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
        return " ".join(["COPY", *flags, *item.sources, item.dest])
    if isinstance(item, User):
        return f"USER {item.user}"
    if isinstance(item, Workdir):
        return f"WORKDIR {item.path}"
    if isinstance(item, Entrypoint):
        return f"ENTRYPOINT {json_argv(item.argv)}"
    if isinstance(item, Cmd):
        return f"CMD {json_argv(item.argv)}"
    raise TypeError(f"unknown instruction {item!r}")


def _pairs(keyword: str, pairs: tuple[tuple[str, str], ...]) -> str:
    if len(pairs) == 1:
        key, value = pairs[0]
        return f"{keyword} {key}={quote_env(value)}"
    body = f" \\\n{INDENT}".join(f"{key}={quote_env(value)}" for key, value in pairs)
    return f"{keyword} {body}"


def _run(item: Run) -> str:
    lines: list[str] = []
    if item.comment:
        lines.extend(f"# {line}" for line in item.comment.splitlines())
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
    parts = ["\n".join(f"# {line}".rstrip() for line in header.splitlines())]
    if global_args:
        parts.append("\n".join(emit_instruction(a) for a in global_args))
    for stage in stages:
        block = []
        if stage.comment:
            block.append("\n".join(f"# {line}" for line in stage.comment.splitlines()))
        block.append(f"FROM {stage.base} AS {stage.name}")
        for item in stage.instructions:
            block.append(emit_instruction(item))
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"
