"""The digest of a `path:` model folder: every file's name, size and SHA-256 (links followed, as the build
context copies them), so an image's tag changes when the model does.

Hashing a large model takes seconds per gigabyte, so each file's SHA-256 is kept in a small cache under
~/.cache/dockyard/ keyed by its path, size, modification time and inode; a file whose stat changed is
hashed again. The cache only saves time: a missing or unreadable cache just means hashing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_NAME = "model-files.json"
CHUNK = 1 << 20


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dockyard" / CACHE_NAME


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _load(path: Path) -> dict[str, list[object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_digest(folder: Path, cache: Path | None = None) -> str:
    """sha256 over "relative/path size sha256" lines of every file under `folder`, in sorted order."""
    cache = cache or cache_path()
    known = _load(cache)
    lines, changed = [], False
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = known.get(key)
        if isinstance(entry, list) and entry[:3] == stamp and len(entry) == 4:
            content = str(entry[3])
        else:
            content = _hash(path)
            known[key] = [*stamp, content]
            changed = True
        lines.append(f"{path.relative_to(folder).as_posix()} {stat.st_size} {content}")
    if changed:
        known = {key: value for key, value in known.items() if os.path.exists(key)}  # models deleted since
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
            temporary.replace(cache)
        except OSError:
            pass  # a read-only home: hash again next time
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
