"""The reader: a parsed Dockerfile -> its Inventory, with what reaches the final image marked.

Stages are read in order. A stage built FROM another starts with what that one holds; `COPY --from=STAGE
PATH` brings the Python packages the source stage installed under PATH (a venv, a prefix) and the build
steps that made them. Values are those of a build with the ARG defaults, expanded as BuildKit does for
Dockerfile instructions and as the shell does inside RUN (lint/flow.py decides which branches run).
Removals (`pip uninstall`, `apt-get remove`) take items out of the image; the report still lists them.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field, replace

from dockyard.knowledge.accelerators import split_image
from dockyard.knowledge.loader import imports_table
from dockyard.lint.analysis import Site, install_sites_of, sites
from dockyard.lint.model import DockerfileModel, Instruction, Stage, expand
from dockyard.lint.packages import covers, repo_name
from dockyard.readback.commands import ContextReader, Read, absolute, read_command
from dockyard.readback.inventory import SINGLE, Inventory, Item, package_name

_NOT_TAKEN = "in a branch that does not run with the ARG defaults"
_UNSURE = "runs only under a condition the reader cannot judge"
_CONTEXT = "the build context"


@dataclass
class _State:
    """What a stage holds so far."""

    packages: dict[str, tuple[Item, str]] = field(default_factory=dict)  # name -> (item, install location)
    extras: dict[str, Item] = field(default_factory=dict)
    system: dict[str, Item] = field(default_factory=dict)
    python: Item | None = None
    steps: list[Item] = field(default_factory=list)
    files: list[Item] = field(default_factory=list)
    clones: dict[str, tuple[str, str]] = field(default_factory=dict)  # folder -> (URL, ref)

    def copy(self) -> _State:
        return _State(dict(self.packages), dict(self.extras), dict(self.system), self.python, list(self.steps),
                      list(self.files), dict(self.clones))

    def alive(self) -> set[int]:
        found = [i for i, _ in self.packages.values()] + [*self.extras.values(), *self.system.values(),
                                                           *self.steps, *self.files]
        return {id(i) for i in found + ([self.python] if self.python else [])}


@dataclass
class _Reading:
    model: DockerfileModel
    context: ContextReader | None
    order: list[Item] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)

    def add(self, item: Item) -> Item:
        self.order.append(item)
        return item

    def note(self, item: Item, text: str) -> None:
        self.notes[id(item)] = f"{self.notes[id(item)]}; {text}" if id(item) in self.notes else text


def read(model: DockerfileModel, context: ContextReader | None = None) -> Inventory:
    """Every item of a parsed Dockerfile. `context(path)` gives the text of a build-context file (a
    requirements file a RUN mounts or copies), or None when it cannot."""
    if model.parse_error is not None:
        return Inventory(model.path, (), (model.parse_error,))
    if not model.stages:
        return Inventory(model.path, (), ("no FROM: a Dockerfile starts its first stage with FROM",))
    reading = _Reading(model, context)
    states: dict[int, _State] = {}
    for stage in model.stages:
        states[stage.index] = _read_stage(reading, stage, states)
    final = model.stages[-1]
    alive = states[final.index].alive()
    chain = final.chain()
    items = [replace(i, final=id(i) in alive, detail=_detail(i, reading.notes)) for i in reading.order]
    items += _instruction_items(model, chain)
    items.sort(key=lambda i: i.line)
    return Inventory(model.path, tuple(items), ())


def _detail(item: Item, notes: dict[int, str]) -> str:
    extra = notes.get(id(item), "")
    return f"{item.detail}; {extra}" if item.detail and extra else item.detail or extra


def _read_stage(reading: _Reading, stage: Stage, states: dict[int, _State]) -> _State:
    state = states[stage.parent.index].copy() if stage.parent is not None else _State()
    if stage.parent is None:
        version = _python_of_image(stage.base)
        if version:
            state.python = reading.add(Item("python", version, line=stage.from_instruction.start_line,
                                            detail=f"the base image {stage.base}"))
    for inst in stage.instructions:
        if inst.cmd == "RUN":
            _read_run(reading, inst, state)
        elif inst.cmd in ("COPY", "ADD"):
            _read_copy(reading, inst, state, states)
    return state


def _python_of_image(image: str) -> str:
    name, tag = split_image(image)
    if name.rsplit("/", 1)[-1] == "python":
        match = re.match(r"^(3\.\d{1,2})(?:\D|$)", tag)
        return match.group(1) if match else ""
    match = re.search(r"(?:^|[_-])py(3\.\d{1,2})(?:\D|$)", tag)
    return match.group(1) if match else ""


def _read_run(reading: _Reading, inst: Instruction, state: _State) -> None:
    installs = {id(w.site.cmd): w.install for w in install_sites_of(reading.model, inst)}
    found: list[tuple[Site, Read]] = []
    for site in sites(reading.model, inst):
        read = read_command(site, installs.get(id(site.cmd)), reading.context)
        if site.cmd.piped_from_previous and found and found[-1][1].step and read.step:
            found[-1][1].step += f" | {read.step}"  # `curl ... | sh` is one step
            continue
        found.append((site, read))
    for site, read in found:
        if site.reached is False:
            _apply(reading, inst, read, _State(), _NOT_TAKEN, taken=False)
        else:
            _apply(reading, inst, read, state, _UNSURE if site.reached is None else "", taken=True)


def repository_package(url: str) -> str:
    """The distribution a git URL without `#egg=` installs: knowledge/imports.toml [repositories], else the
    repository's name."""
    body = re.sub(r"^(?:git\+)?[a-z]+://(?:[^@/]+@)?", "", url.strip()).split("#", 1)[0]
    path = re.split(r"@(?=[^/]*$)", body, maxsplit=1)[0].removesuffix(".git").rstrip("/").lower()
    known: dict[str, str] = imports_table().get("repositories", {})
    return known.get(path) or repo_name(url)


def _apply(reading: _Reading, inst: Instruction, read: Read, state: _State, why: str, taken: bool) -> None:
    line = inst.start_line
    suffix = f"; {why}" if why else ""
    for req, how in read.packages:
        name = req.name or (repository_package(req.url) if req.vcs else "") or _cloned(req.raw, state)
        if not name:
            reading.add(Item("packages", req.raw, line=line, final=False,
                             detail=f"{how}: a local path or URL the reader cannot name{suffix}"))
            continue
        value = req.specifier or req.url
        clone = _clone_of(req.raw, state) if req.local else None
        detail = how
        if clone:
            value = f"{clone[0]}@{clone[1]}" if clone[1] else clone[0]
            detail = f"{how}; from {clone[0]} copied in" if clone[0] == _CONTEXT else \
                f"{how}; from a clone of {clone[0]} at {clone[1] or 'its default branch'}"
        if name.startswith("$"):
            detail = f"{how}: a value the reader cannot resolve"
        item = reading.add(Item("packages", name, value, line, detail=detail + suffix))
        state.packages[name] = (item, read.location)
        for extra in req.extras:
            state.extras[f"{name}[{extra}]"] = reading.add(Item("extras", f"{name}[{extra}]", line=line,
                                                                detail=how + suffix))
    for what, why_not in read.unread:
        reading.add(Item("packages", what, line=line, final=False, detail=why_not + suffix))
    for name, version in read.system:
        state.system[name] = reading.add(Item("system", name, version, line, detail="apt" + suffix))
        match = re.match(r"^python(3\.\d{1,2})$", name)
        if match and taken:
            state.python = reading.add(Item("python", match.group(1), line=line, detail=f"apt {name}" + suffix))
    if not taken:
        if read.step:
            reading.add(Item("steps", read.step, line=line, detail=_NOT_TAKEN))
        return
    for name in read.removed_packages:  # what its extras installed stays: the extras stay in the image
        _remove(reading, state.packages, package_name(name), "packages", line)
        for extra in [e for e in state.extras if e.startswith(f"{package_name(name)}[")]:
            reading.note(state.extras[extra], f"its package removed at line {line}; what the extra installed stays")
    for name in read.removed_system:
        _remove(reading, state.system, name, "system", line)
    if read.python:
        state.python = reading.add(Item("python", read.python, line=line, detail=read.step or "conda" + suffix))
    if read.clone:
        state.clones[read.clone[0]] = (read.clone[1], "")
    if read.checkout and read.checkout[0] in state.clones:
        state.clones[read.checkout[0]] = (state.clones[read.checkout[0]][0], read.checkout[1])
    if read.step:
        state.steps.append(reading.add(Item("steps", read.step, line=line, detail=why)))


def _remove(reading: _Reading, table: dict[str, tuple[Item, str]] | dict[str, Item], name: str, kind: str,
            line: int) -> None:
    found = table.pop(name, None)
    if found is not None:
        item = found[0] if isinstance(found, tuple) else found
        reading.note(item, f"removed at line {line}")
    else:
        reading.add(Item(kind, name, line=line, final=False,
                         detail=f"removed at line {line}, installed by the base image or as a dependency"))


def _clone_of(path: str, state: _State) -> tuple[str, str] | None:
    """(URL, ref) of the clone (or build-context copy) at the absolute folder `path`."""
    return state.clones.get(posixpath.normpath(path))


def _cloned(raw: str, state: _State) -> str:
    """The package name of a folder that is a git clone made earlier (`./transformers[dev]`), or a folder
    copied from the build context (named after where it was copied)."""
    clone = _clone_of(raw, state)
    if clone is None:
        return ""
    if clone[0] == _CONTEXT:
        return package_name(raw.rstrip("/").rsplit("/", 1)[-1])
    return package_name(repository_package(clone[0]))


def _read_copy(reading: _Reading, inst: Instruction, state: _State, states: dict[int, _State]) -> None:
    env = reading.model.env_before(inst)
    words = [expand(w, env) for w in inst.value]
    if len(words) < 2:
        return
    sources, destination = words[:-1], words[-1]
    origin = inst.flag("from")
    stage = reading.model.stage_named(origin[0]) if origin else None
    if origin and stage is None and origin[0].isdigit() and int(origin[0]) < len(reading.model.stages):
        stage = reading.model.stages[int(origin[0])]
    if stage is None or stage.index not in states:
        where = f" from {origin[0]}" if origin else ""
        if not origin and sources == ["."]:  # the whole build context: a source tree, named after where it goes
            folder = absolute(_workdir_before(reading.model, inst, inst.stage) if inst.stage else "/", destination)
            state.clones[folder] = (_CONTEXT, "")
        state.files.append(reading.add(Item("files", f"{' '.join(sources)} -> {destination}", line=inst.start_line,
                                            detail=f"{inst.cmd}{where}")))
        return
    source_state = states[stage.index]
    name = stage.name or str(stage.index)
    for path in (absolute("/", s) for s in sources):
        for package, (item, location) in source_state.packages.items():
            if covers(path, location) or covers(location, path):
                state.packages[package] = (item, location)
                for extra in [e for e in source_state.extras if e.startswith(f"{package}[")]:
                    state.extras[extra] = source_state.extras[extra]
        if state.python is None and source_state.python is not None:
            state.python = source_state.python
    known = {id(s) for s in state.steps}
    state.steps += [step for step in source_state.steps if id(step) not in known]
    for step in source_state.steps:
        if id(step) not in known:
            reading.note(step, f"in stage {name}, copied into a later one at line {inst.start_line}")


def _instruction_items(model: DockerfileModel, chain: list[Stage]) -> list[Item]:
    """Base, env, build arguments, labels, user, workdir, shell, entrypoint and command: the last of each
    in the final stage's chain reaches the image; those of other stages are listed as not reaching it."""
    in_chain = {s.index for s in chain}
    out: list[Item] = [Item("base", _base(model, chain[0]), line=chain[0].from_instruction.start_line)]
    out += [Item("base", _base(model, s), line=s.from_instruction.start_line, final=False,
                 detail=f"build stage {s.name or s.index}")
            for s in model.stages if s.parent is None and s.index not in in_chain]
    for inst in (i for i in model.instructions if i.cmd == "ARG" and i.stage is None):
        out += [Item("args", name, value or "", inst.start_line) for name, value in inst.pairs()]
    last: dict[tuple[str, str], int] = {}  # (kind, name) -> place in `out` of the one that counts so far
    for stage in model.stages:
        final = stage.index in in_chain
        for inst in stage.instructions:
            for item in _items_of(model, inst, stage):
                if not final:
                    out.append(replace(item, final=False, detail=f"build stage {stage.name or stage.index}"))
                    continue
                key = (item.kind, "" if item.kind in SINGLE else item.name)
                if key in last and item.kind != "args":
                    out[last[key]] = replace(out[last[key]], final=False, detail=f"replaced at line {item.line}")
                last[key] = len(out)
                out.append(item)
    return out


def _base(model: DockerfileModel, stage: Stage) -> str:
    """The FROM image with the build arguments that have defaults filled in; one without a default stays
    `${NAME}` (the build must pass it)."""
    words = stage.from_instruction.value
    if not words:
        return stage.base
    return expand(words[0], {k: v for k, v in model.global_args.items() if v is not None})


def _items_of(model: DockerfileModel, inst: Instruction, stage: Stage) -> list[Item]:
    line = inst.start_line
    if inst.cmd in ("ENV", "LABEL"):
        env = dict(model.env_before(inst))
        items = []
        for name, value in inst.pairs():
            expanded = expand(value or "", env)
            if inst.cmd == "ENV":
                env[name] = expanded
            items.append(Item("env" if inst.cmd == "ENV" else "labels", name, expanded, line))
        return items
    if inst.cmd == "ARG":
        return [Item("args", name, value or "", line) for name, value in inst.pairs()]
    if inst.cmd in ("USER", "WORKDIR"):
        value = expand(" ".join(inst.value), model.env_before(inst)).strip()
        if inst.cmd == "WORKDIR":
            value = absolute(_workdir_before(model, inst, stage), value)
        return [Item(inst.cmd.lower(), value, line=line)] if value else []
    if inst.cmd in ("SHELL", "ENTRYPOINT", "CMD"):
        value = " ".join(inst.value) if inst.is_json or inst.cmd == "SHELL" else (
            "/bin/sh -c " + " ".join(inst.value))
        return [Item(inst.cmd.lower(), value, line=line,
                     detail=json.dumps(list(inst.value)) if inst.is_json else "shell form")]
    return []


def _workdir_before(model: DockerfileModel, inst: Instruction, stage: Stage) -> str:
    cwd = "/"
    for other in stage.chain_instructions():
        if other is inst:
            break
        if other.cmd == "WORKDIR" and other.value:
            cwd = absolute(cwd, expand(other.value[0], model.env_before(other)))
    return cwd
