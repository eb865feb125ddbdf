"""`dockyard import`: a hand-written Dockerfile -> a spec that `dockyard check` accepts, and a report of
every item of the Dockerfile (mapped to which key, or not, and why).

The mapped spec is checked the way `dockyard check` does (validate, resolve, render). Where the original
asks for what dockyard cannot give (a Python torch no longer supports, a package pins.toml lacks for that
Python, an add-on the target cannot run), the value resolve names is taken out and the report says why; what
is left resolves. When nothing is left to take out and it still cannot resolve, the import is refused
with resolve's reason."""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.errors import InputError, ResolveError, SpecError
from dockyard.lint.parser import parse_bytes
from dockyard.readback.inventory import Inventory
from dockyard.readback.reader import read
from dockyard.readback.settings import Mapped
from dockyard.readback.tospec import to_spec
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import name_from_stem, spec_from_dict
from dockyard.spec.tomlout import dumps

MAX_BYTES = 1_000_000  # a Dockerfile is text of a few KB; larger input is refused, not parsed
MAX_CONTEXT_FILE = 1_000_000
_KEY = re.compile(r"\[image\]\.([a-z-]+)(?: = '([^']*)'| = \"([^\"]*)\")?")
_ATTEMPTS = 32


@dataclass(frozen=True)
class Imported:
    source: str
    inventory: Inventory
    image: dict[str, Any]  # the [image] table that checks
    rows: tuple[Mapped, ...]
    taken_out: tuple[str, ...]  # "packages = 'x': why", what resolve refused and the import took out

    def document(self) -> dict[str, Any]:
        return {"image": self.image}

    def toml(self) -> str:
        header = (f"Imported by `dockyard import` from {self.source}.\n"
                  "Every item of the original, mapped or not, is in the import report (--report).")
        return dumps(self.document(), header)


def read_dockerfile(path: Path) -> tuple[bytes, Path]:
    """The bytes of a Dockerfile, refused with a message when it is not a readable regular text file of
    reasonable size (a FIFO, a device, a folder, a huge or binary file)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", "give the path of a Dockerfile") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: a folder, not a Dockerfile", f"give the file, e.g. {path / 'Dockerfile'}")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file (a FIFO, device or socket)", "give a Dockerfile")
    if info.st_size > MAX_BYTES:
        raise InputError(f"{path}: {info.st_size:,} bytes; a Dockerfile is text of a few KB (the limit is "
                         f"{MAX_BYTES:,})", "give the Dockerfile itself, not an archive or a log")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return data, path.resolve().parent


def context_reader(folder: Path) -> Any:
    """A reader of build-context files (a requirements file a RUN mounts): regular files inside `folder`
    only, at most MAX_CONTEXT_FILE bytes; None for anything else."""

    def read_file(relative: str) -> str | None:
        try:
            target = (folder / relative).resolve()
            if not target.is_relative_to(folder) or not target.is_file():
                return None
            if target.stat().st_size > MAX_CONTEXT_FILE:
                return None
            return target.read_text(encoding="utf-8", errors="replace")
        except (OSError, ValueError):
            return None

    return read_file


def import_text(data: bytes, source: str, name: str, context: Any = None) -> Imported:
    """Read a Dockerfile's bytes and map them to a spec that checks."""
    model = parse_bytes(data, source)
    if model.parse_error is not None:
        raise InputError(f"{source}: not a Dockerfile dockyard can read: {model.parse_error}",
                         "give a Dockerfile (FROM, RUN, ... instructions)")
    inventory = read(model, context)
    if inventory.problems:
        raise InputError(f"{source}: {inventory.problems[0]}", "give a Dockerfile with a FROM instruction")
    image, rows = to_spec(inventory, name)
    checked, taken_out = check(image, source)
    rows = [_taken(row, checked, taken_out) for row in rows]
    return Imported(source, inventory, checked, tuple(rows), tuple(taken_out))


def import_file(path: Path, name: str | None = None) -> Imported:
    data, folder = read_dockerfile(path)
    stem = path.parent.name if path.name.lower() in ("dockerfile", "containerfile") else path.stem
    return import_text(data, str(path), name or name_from_stem(stem), context_reader(folder))


def check(image: dict[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """The table with what cannot resolve taken out, and a line per thing taken out."""
    image = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in image.items()}
    taken: list[str] = []
    explain = False  # the search for the smallest conflicting set of keys only when the problems name none
    for _ in range(_ATTEMPTS):
        resolvable = False
        try:
            spec = spec_from_dict({"image": image}, f"{source} (imported)", image.get("name", "imported"))
            render(resolve(spec, explain=explain))
            return image, taken
        except ResolveError as exc:
            problems, keys, resolvable = exc.problems, list(exc.conflict), True
        except (SpecError, InputError) as exc:
            problems, keys = [exc.message], []
        if _take_out(image, problems, keys, taken):
            explain = False
        elif resolvable and not explain:
            explain = True
        else:
            raise InputError(f"{source}: the imported spec cannot resolve, and no value of the original is "
                             f"left to take out: {problems[0]}",
                             "the report (--report) lists every item; dockyard's knowledge base may lack a row "
                             "for this combination (`dockyard check` on the spec says which)")
    raise InputError(f"{source}: the imported spec still does not resolve after {_ATTEMPTS} changes",
                     "write the spec by hand from the report (--report)")


_ORDER = ("packages", "addons", "extras", "system-packages", "env", "entrypoint", "cmd", "user", "gpu-archs",
          "python", "variant", "torch", "transformers", "transformers-install", "modalities", "profile")


def _take_out(image: dict[str, Any], problems: list[str], keys: list[str], taken: list[str]) -> bool:
    """Take out the first value the problems name (an entry of a list, or a key); False when none."""
    named: list[tuple[str, str]] = []
    for place, problem in enumerate(problems):  # the first problem's keys first: it is the one that blocks
        found = [(m.group(1), m.group(2) or m.group(3) or "") for m in _KEY.finditer(problem)]
        found.sort(key=lambda pair: _ORDER.index(pair[0]) if pair[0] in _ORDER else len(_ORDER))
        named += [pair for pair in found if pair not in named]
        if place == 0 and found:
            break
    named += [(key, "") for key in keys if (key, "") not in named]
    reason = problems[0].split(": ", 1)[-1] if problems else "it cannot resolve"
    for key, value in named:
        if key not in image or key in ("target", "name"):
            continue
        current = image[key]
        if isinstance(current, list) and value and value in current:
            current.remove(value)
            if not current:
                del image[key]
            taken.append(f"{key} = {value!r}: {reason}")
            return True
        if isinstance(current, list):
            match = [v for v in current if re.split(r"[=<>!~\[@ ]", v, maxsplit=1)[0] == value] if value else []
            if not match:
                continue  # a list is never dropped whole: only the entry a problem names
            current.remove(match[0])
            if not current:
                del image[key]
            taken.append(f"{key} = {match[0]!r}: {reason}")
            return True
        del image[key]
        taken.append(f"{key} = {current!r}: {reason}")
        return True
    return False


def _taken(row: Mapped, image: dict[str, Any], taken: list[str]) -> Mapped:
    """A row whose value the check took out says so."""
    if not row.key or row.key not in ("packages", "addons", "extras", "system-packages", "env", "python",
                                      "torch", "variant", "transformers", "user", "entrypoint", "cmd"):
        return row
    for line in taken:
        key, _, rest = line.partition(" = ")
        if key != row.key:
            continue
        shown = rest.split(": ", 1)[0]
        if row.key in ("packages", "addons", "extras", "system-packages"):
            wanted = row.item.name.partition("[")[2].rstrip("]") if row.key == "extras" else row.item.name
            if wanted not in shown:
                continue
        elif row.key == "env" and row.item.name not in shown:
            continue
        return replace(row, key="", note=f"taken out: {rest.split(': ', 1)[-1]}")
    return row
