"""A `path:` model folder is build input, like `files`: confined, walked once, read with bounds.

- **Confined** to the folder of the spec that names it (`[serve].model = "path:DIR"`; a spec that
  `extends` it inherits the folder, still confined to the naming spec's folder), after every link:
  a link that leads out, a link to a folder it is in, a FIFO, a device or a socket is refused, and
  nothing under /proc, /dev or /sys is ever read, wherever the spec lies.
- **Left out**: `.git`, what a `.dockerignore` of the spec's folder or of the model folder excludes,
  dockyard's own outputs (a folder's `.dockyard-files` manifest and every path it lists, e.g. an
  earlier `render -o .`) and dockyard's half-written temporary files.
- **Read with bounds**: every read of a model file (`config.json`, `tokenizer_config.json`, ...) opens it
  without blocking (a FIFO cannot hang `dockyard check`), refuses anything but a regular file, and reads
  at most `MAX_JSON_BYTES`.

`walk_model` lists what a build copies (the render side copies exactly that list, re-checking each file
as it opens it); the listing's size goes into `dockyard check`'s notes, with a warning when large.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dockyard.errors import SpecError

OUTPUT_MANIFEST = ".dockyard-files"  # render/owned.py's manifest: a folder dockyard wrote into
TEMPORARY = re.compile(r"^\..+\.dockyard-tmp-\d+$")  # render/owned.py's write_atomic, mid-write
NEVER = (Path("/proc"), Path("/dev"), Path("/sys"))  # kernel files: never model input, even if the spec lies at /
MAX_JSON_BYTES = 16 * 1024 * 1024  # a model's config or tokenizer config; tokenizer.json is not parsed here
LARGE_BYTES = 20 * 10**9  # above this, `check` warns: make sure the folder holds only the model
HINT = ("keep the model's files in a folder next to the spec (links too must point inside the spec's folder); "
        "save it there with save_pretrained(DIR)")


@dataclass(frozen=True)
class ModelFile:
    relative: str  # POSIX path inside the model folder, as it lands under /opt/model
    source: Path  # the regular file on disk, every link followed
    size: int


@dataclass(frozen=True)
class ModelFolder:
    path: Path  # the model folder, resolved
    root: Path  # the folder it is confined to: the folder of the spec that names it
    files: tuple[ModelFile, ...]
    folders: tuple[str, ...]  # every folder copied (empty ones too), relative
    left_out: tuple[str, ...]  # relative paths not copied, each with why

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> str:
        """`12 files, 0.5 MB` and what was left out."""
        text = f"{len(self.files)} files, {self.size / 1e6:,.1f} MB"
        if self.left_out:
            shown = ", ".join(self.left_out[:4]) + (f" and {len(self.left_out) - 4} more" if len(self.left_out) > 4
                                                    else "")
            text += f" (left out: {shown})"
        return text


class _Ignore:
    """`.dockerignore` rules as docker applies them: `*`, `?`, `[...]` within a path component, `**`
    across components, `!` re-includes, the last matching rule wins, a rule that matches a folder
    matches everything in it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
            if pattern in ("", "."):
                continue
            self.rules.append((negate, re.compile(_glob(pattern))))

    def excludes(self, relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        excluded = False
        for negate, rule in self.rules:
            if any(rule.fullmatch(prefix) for prefix in prefixes):
                excluded = not negate
        return excluded


def _glob(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append(f"[{'^' + body[1:] if body.startswith('^') else body}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _ignore_file(folder: Path) -> _Ignore:
    path = folder / ".dockerignore"
    try:
        return _Ignore(read_bounded(path, 1024 * 1024).decode("utf-8", "replace"))
    except (FileNotFoundError, NotADirectoryError):
        return _Ignore("")
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read: {exc.strerror or exc}", "make it a plain text file") from None


def _never(path: Path) -> bool:
    return any(path == kernel or path.is_relative_to(kernel) for kernel in NEVER)


def _manifest(folder: Path) -> set[str]:
    """The paths a folder's `.dockyard-files` lists (dockyard's output there), without trailing '/'."""
    try:
        text = read_bounded(folder / OUTPUT_MANIFEST, 4 * 1024 * 1024).decode("utf-8", "replace")
    except OSError:
        return set()
    return {line.rstrip("/") for line in text.splitlines() if line and not line.startswith("#")}


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file or folder"


def walk_model(root: Path, entry: str | Path, where: str, output: Path | None = None) -> ModelFolder:
    """The files a `path:` model copies, or a SpecError naming `where` (`FILE: [serve].model = "..."`).
    `output`: the folder being written now (a build context, `render -o`), left out wherever it lies."""
    base = root.resolve()
    try:
        folder = (base / entry).resolve()
    except (OSError, RuntimeError) as exc:  # a name too long, a link loop
        raise SpecError(f"{where}: cannot be resolved: {getattr(exc, 'strerror', None) or exc}", HINT) from None
    if not folder.is_relative_to(base):
        raise SpecError(f"{where}: resolves to {folder}, outside the folder of the spec that names it ({base})", HINT)
    if _never(folder):
        raise SpecError(f"{where}: resolves to {folder}: kernel files are never model input", HINT)
    if not folder.is_dir():
        raise SpecError(f"{where}: no such folder {folder}",
                        "the folder is relative to the spec file; save the model there with save_pretrained(DIR), "
                        "or use hub: or mount:")
    walk = _Walk(folder, base, where, output.resolve() if output is not None else None)
    walk.run()
    return ModelFolder(folder, base, tuple(walk.files), tuple(walk.folders), tuple(walk.left_out))


class _Walk:
    """Every file and folder under the model folder, links followed and checked, in a fixed order."""

    def __init__(self, folder: Path, base: Path, where: str, output: Path | None) -> None:
        self.folder, self.base, self.where, self.output = folder, base, where, output
        inside = folder.relative_to(base).as_posix()
        self.ignores = ((_ignore_file(folder), ""), (_ignore_file(base), "" if inside == "." else f"{inside}/"))
        self.files: list[ModelFile] = []
        self.folders: list[str] = []
        self.left_out: list[str] = []

    def run(self) -> None:
        self._folder(self.folder, "", frozenset({self.folder}), frozenset())

    def _skip(self, name: str, relative: str, owned: frozenset[str]) -> str | None:
        if name == ".git":
            return "git metadata"
        if name == OUTPUT_MANIFEST or name in owned or TEMPORARY.match(name):
            return "dockyard's output"
        if any(rules.excludes(prefix + relative) for rules, prefix in self.ignores):
            return ".dockerignore"
        return None

    def _folder(self, directory: Path, prefix: str, above: frozenset[Path], inherited: frozenset[str]) -> bool:
        """Walk one folder; True when something in it is copied (or it is empty on disk)."""
        owned = inherited | _manifest(directory)
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise SpecError(f"{self.where}: cannot list {directory}: {exc.strerror or exc}", HINT) from None
        kept = not names
        for name in names:
            relative = f"{prefix}{name}"
            why = self._skip(name, relative, owned)
            if why:
                self.left_out.append(f"{relative} ({why})")
                continue
            real, info = self._follow(directory / name, relative)
            if real == self.output:
                self.left_out.append(f"{relative} (dockyard's output)")
                continue
            if stat.S_ISREG(info.st_mode):
                self.files.append(ModelFile(relative, real, info.st_size))
                kept = True
            elif stat.S_ISDIR(info.st_mode):
                if real in above:
                    raise SpecError(f"{self.where}: {relative} is a link to a folder it is in: copying it would "
                                    "never end", HINT)
                at = len(self.folders)
                self.folders.append(relative)
                below = frozenset(p[len(name) + 1:] for p in owned if p.startswith(f"{name}/"))
                if self._folder(real, f"{relative}/", above | {real}, below):
                    kept = True
                else:  # emptied by what was left out: not copied either
                    del self.folders[at]
            else:
                raise SpecError(f"{self.where}: {relative} is {_kind(info.st_mode)}; a model folder holds regular "
                                "files and folders only", HINT)
        return kept

    def _follow(self, lexical: Path, relative: str) -> tuple[Path, os.stat_result]:
        try:
            info = os.lstat(lexical)
            if not stat.S_ISLNK(info.st_mode):
                return lexical, info
            real = lexical.resolve(strict=True)
            if not real.is_relative_to(self.base) or _never(real):
                raise SpecError(f"{self.where}: {relative} is a link to {real}, outside the folder of the spec that "
                                f"names the model ({self.base})", HINT)
            return real, os.stat(real)
        except (OSError, RuntimeError) as exc:
            raise SpecError(f"{self.where}: {relative} cannot be followed: {getattr(exc, 'strerror', None) or exc}",
                            HINT) from None


def read_bounded(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file. Opening never blocks (a FIFO), a device or any other
    special file is refused and a larger file is an error: OSError (FileNotFoundError when missing)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is {_kind(info.st_mode)}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1024 * 1024, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise OSError(f"{path} is larger than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_model_json(path: Path, where: str) -> dict[str, Any]:
    """A model file as a JSON object: {} when it is missing or not a JSON object (the caller says what it
    needed); a special file, a link out of the model's folder or a file over MAX_JSON_BYTES is a SpecError."""
    try:
        data = json.loads(read_bounded(path, MAX_JSON_BYTES))
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return {}
    except OSError as exc:
        raise SpecError(f"{where}: {PurePosixPath(path.name)}: {exc.strerror or exc}",
                        "a model file is a regular file of at most 16 MiB (save_pretrained writes such files)") \
            from None
    return data if isinstance(data, dict) else {}


def model_file_exists(path: Path) -> bool:
    """True for a regular file (links followed), False for anything else; never blocks."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
