"""Parse Dockerfile text (or a file's bytes) into the model: the official BuildKit parser (the
`dockerfile` binding) gives the instructions, this module builds stages and global ARGs from them and
reports what cannot be parsed (a binary file, a parser error) in `parse_error`. Never raises."""

from __future__ import annotations

import dockerfile

from dockyard.lint.model import DockerfileModel, Heredoc, Instruction, Stage, expand
from dockyard.lint.prescan import PreScan, prescan


def sanitize(text: str) -> str:
    """Make text safe for the Go parser: no lone surrogates (they crash the binding) and no NULs
    (it reads C strings and silently stops at the first one)."""
    clean = text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    return clean.replace("\x00", "\ufffd")


def not_text(data: bytes | str) -> str | None:
    """Why `data` is binary rather than a Dockerfile (a NUL byte, as git decides), or None for text.
    Other bytes that are not UTF-8 are read as U+FFFD: BuildKit builds such files."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data  # one character per byte
    nul = text.find("\0")
    if nul < 0:
        return None
    line = text.count("\n", 0, nul) + 1
    return f"a binary file: it holds NUL bytes (the first on line {line}); a Dockerfile is text"


def parse_bytes(data: bytes, path: str = "Dockerfile") -> DockerfileModel:
    """Parse a file's bytes: a binary or non-UTF-8 file is reported as such, not handed to the parser."""
    reason = not_text(data)
    text = data.decode("utf-8", errors="replace")
    if reason is None:
        return parse(text, path)
    model = DockerfileModel(path=path, text=sanitize(text), lines=[], prescan=PreScan(), binary=True)
    model.parse_error = reason
    return model


def parse(text: str, path: str = "Dockerfile") -> DockerfileModel:
    """Parse Dockerfile text. Never raises: a parser error is kept in `parse_error`."""
    reason = not_text(text)
    if reason is not None:
        return DockerfileModel(path=path, text=sanitize(text), lines=[], prescan=PreScan(), parse_error=reason,
                               binary=True)
    text = sanitize(text)
    lines = text.splitlines()
    model = DockerfileModel(path=path, text=text, lines=lines, prescan=prescan(lines))
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        model.parse_error = str(exc) or "the file cannot be parsed"
        return model
    except Exception as exc:  # the binding may raise other errors on odd input
        model.parse_error = f"{type(exc).__name__}: {exc}"
        return model
    try:
        _build(model, commands)
    except Exception as exc:  # odd parser output must never crash lint
        model.parse_error = f"{type(exc).__name__}: {exc}"
    if not model.instructions and model.parse_error is None:
        model.parse_error = "file with no instructions"
    return model


def _build(model: DockerfileModel, commands: tuple[dockerfile.Command, ...]) -> None:
    stage: Stage | None = None
    for index, cmd in enumerate(commands):
        if not cmd.cmd:
            continue  # a stray line continuation yields a command without a name
        inst = Instruction(
            cmd=cmd.cmd.upper(),
            value=tuple(v for v in (cmd.value or ()) if v is not None),
            flags=tuple(f for f in (cmd.flags or ()) if f is not None),
            original=cmd.original or "",
            start_line=max(1, cmd.start_line or 1),
            end_line=max(cmd.end_line or 1, cmd.start_line or 1, 1),
            is_json=bool(cmd.json),
            sub_cmd=cmd.sub_cmd,
            heredocs=tuple(Heredoc(h.name, h.content) for h in (getattr(cmd, "heredocs", None) or ())),
            index=index,
        )
        model.instructions.append(inst)
        if inst.cmd == "FROM":
            stage = _new_stage(model, inst)
            model.stages.append(stage)
        elif stage is None and inst.cmd == "ARG":
            for name, value in inst.pairs():
                model.global_args[name] = expand(value, model.global_args) if value is not None else None
        if stage is not None:
            inst.stage = stage
            if inst.cmd != "FROM":
                stage.instructions.append(inst)


def _new_stage(model: DockerfileModel, inst: Instruction) -> Stage:
    words = list(inst.value)
    image = expand(words[0], model.global_args) if words else ""
    name = None
    if len(words) >= 3 and words[1].lower() == "as":
        name = expand(words[2], model.global_args).lower()
    stage = Stage(index=len(model.stages), name=name, base=image, from_instruction=inst)
    parent = model.stage_named(image) if image else None
    if parent is not None:
        stage.parent = parent
    return stage
