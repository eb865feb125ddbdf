"""Ask the package index what it knows: a project's JSON document (releases, files, yanks), and a file
inside one of its wheels (METADATA, a module's source) read through HTTP range requests, so a 500 MB
torch wheel costs a few kilobytes. Standard library only; every call has a timeout, and every failure
is an `IndexUnavailable` with what was asked, never a traceback.

Used by scripts/refresh_knowledge.py (which writes the answers as reviewed data) and by `dockyard
doctor` (which compares them with the knowledge base when the index answers).
"""

from __future__ import annotations

import email.parser
import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from typing import Any

PYPI = "https://pypi.org"
FILES = "https://files.pythonhosted.org/packages/"


class IndexUnavailable(Exception):
    """The index did not answer (offline, a timeout, an HTTP error) or answered something unreadable."""


def project(name: str, timeout: float = 30.0, base: str = PYPI) -> dict[str, Any]:
    """PyPI's JSON document of a project: `info` (the newest release's metadata) and `releases`."""
    url = f"{base.rstrip('/')}/pypi/{name}/json"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = json.load(response)
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, a body that is not JSON
        raise IndexUnavailable(f"{url}: {_reason(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("releases"), dict):
        raise IndexUnavailable(f"{url}: not a project document")
    return data


def file_url(url: str) -> str:
    """A file's URL as files.pythonhosted.org serves it (some mirrors answer with relative URLs)."""
    match = re.search(r"([0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)$", url)
    return FILES + match.group(1) if match else url


class RangeFile(io.RawIOBase):
    """A remote file as a seekable read-only stream over HTTP range requests, read in blocks that are
    kept: a wheel's METADATA costs two or three requests (its tail, where the zip directory is, and the
    member), whatever the wheel's size."""

    BLOCK = 256 * 1024

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__()
        self.url, self.timeout, self.position = url, timeout, 0
        self.blocks: dict[int, bytes] = {}
        data, total = self._get(f"bytes=-{self.BLOCK}")
        if total is None:
            raise IndexUnavailable(f"{url}: the server does not serve byte ranges")
        self.size = total
        self.tail = (total - len(data), data)  # where the zip directory is

    def _get(self, byte_range: str) -> tuple[bytes, int | None]:
        request = urllib.request.Request(self.url, headers={"Range": byte_range})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read()
                match = re.match(r"bytes \d+-\d+/(\d+)", response.headers.get("Content-Range", ""))
        except OSError as exc:
            raise IndexUnavailable(f"{self.url}: {_reason(exc)}") from None
        return data, int(match.group(1)) if match else None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _range(self, start: int, end: int) -> bytes:
        tail_start, tail = self.tail
        if start >= tail_start:
            return tail[start - tail_start:end - tail_start]
        first, last = start // self.BLOCK, (end - 1) // self.BLOCK
        missing = [b for b in range(first, last + 1) if b not in self.blocks]
        if missing:
            low, high = missing[0] * self.BLOCK, min(self.size, (missing[-1] + 1) * self.BLOCK)
            data, _ = self._get(f"bytes={low}-{high - 1}")
            for index in range(missing[0], missing[-1] + 1):
                self.blocks[index] = data[(index - missing[0]) * self.BLOCK:(index - missing[0] + 1) * self.BLOCK]
        joined = b"".join(self.blocks[b] for b in range(first, last + 1))
        return joined[start - first * self.BLOCK:end - first * self.BLOCK]

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if self.position >= end:
            return b""
        data = self._range(self.position, end)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def wheel_files(url: str, wanted: list[str], timeout: float = 30.0) -> dict[str, str]:
    """The text of the members of a remote wheel whose names end with one of `wanted` (e.g.
    ".dist-info/METADATA", "cli/serving/server.py"); the members that do not exist are left out."""
    try:
        with zipfile.ZipFile(RangeFile(file_url(url), timeout)) as wheel:
            names = [n for n in wheel.namelist() if any(n.endswith(w) for w in wanted)]
            return {name: wheel.read(name).decode("utf-8", "replace") for name in names}
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise IndexUnavailable(f"{url}: {_reason(exc)}") from None


def metadata(text: str) -> dict[str, list[str]]:
    """A METADATA file's fields, each a list of its values (Requires-Dist repeats)."""
    message = email.parser.Parser().parsestr(text, headersonly=True)
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(str(value).strip())
    return fields


def release_wheel(document: dict[str, Any], version: str, python: str = "3.11") -> str | None:
    """The URL of a Linux x86_64 wheel of `version` for CPython `python` (or a pure one), None without one."""
    cp = "cp" + python.replace(".", "")
    files = [f for f in document["releases"].get(version, []) if f.get("filename", "").endswith(".whl")]
    for file in sorted(files, key=lambda f: str(f["filename"])):
        tags = str(file["filename"])[:-4].split("-")[-3:]
        platform_ok = tags[2] == "any" or ("linux" in tags[2] and "x86_64" in tags[2])
        if platform_ok and (tags[0].startswith("py3") or cp in tags[0].split(".") or tags[1] == "abi3"):
            return str(file["url"])
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
