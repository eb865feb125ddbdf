"""The matrix state file: what each spec digest gave the last time it was built, for `--resume`.

One JSON document, keyed by spec digest, rewritten after every image that finishes (built and verified,
or failed): written to a temporary file in the same folder, flushed to disk, then renamed over the old
one, so a run that is interrupted, even killed, leaves either the previous state or the new one, never
a torn file, and loses nothing it had finished.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import InputError

VERSION = 1
DEFAULT_PATH = Path(".dockyard") / "matrix-state.json"


@dataclass(frozen=True)
class Entry:
    digest: str
    name: str
    ref: str
    status: str  # done (built and verified) | failed
    image_id: str = ""
    tags: tuple[str, ...] = ()
    seconds: float = 0.0
    finished: str = ""  # UTC, ISO 8601
    error: str = ""
    log_path: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["tags"] = tuple(known.get("tags") or ())
        return cls(**known)


@dataclass
class State:
    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the matrix state: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
            entries = {digest: Entry.from_json(entry) for digest, entry in data["images"].items()}
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}: not a dockyard matrix state file ({exc})",
                             "remove it to start afresh, or give another file with --state") from None
        return cls(path, entries)

    def done(self, digest: str) -> Entry | None:
        entry = self.entries.get(digest)
        return entry if entry is not None and entry.status == "done" else None

    def record(self, entry: Entry) -> None:
        with self._lock:
            self.entries[entry.digest] = entry
            self._write()

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "images": {d: e.to_json() for d, e in sorted(self.entries.items())}}

    def _write(self) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut right after it must not bring the old file back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
