"""How large a serve image's model is, to size its pods: the weight files of a `path:` folder, or for a
`hub:` model the Hub's file list (when the Hub or HF_ENDPOINT answers), and the dtype the weights are
stored in (config.json). Reads are bounded; nothing here downloads a weight."""

from __future__ import annotations

import fnmatch
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_LIMIT = 1 << 20  # a config.json larger than this is not read
PAGES = 50  # a file list longer than this many pages is not a model repository
HUB_TIMEOUT = 8.0


@dataclass(frozen=True)
class ModelSize:
    weights: int  # bytes of the weight files transformers loads
    files: int  # bytes of the files a model volume holds (a fetch at start skips the other weight formats)
    stored_dtype: str | None  # config.json's torch_dtype (or dtype); None when unknown
    source: str  # where the numbers come from, for notes


NEVER = ("*.h5", "*.msgpack", "*.ot", "*.tflite")  # TensorFlow, Flax, Rust weights: never downloaded at start


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name.rsplit("/", 1)[-1], pattern)


def weight_bytes(sizes: dict[str, int], patterns: tuple[str, ...]) -> int:
    """Bytes of the weight files: the first pattern that matches any file wins (transformers loads one
    format: safetensors before pytorch_model*.bin)."""
    for pattern in patterns:
        matched = [size for name, size in sizes.items() if _matches(name, pattern)]
        if matched:
            return sum(matched)
    return 0


def fetched_bytes(sizes: dict[str, int], patterns: tuple[str, ...]) -> int:
    """Bytes a fetch at start downloads (render/files/hub_model.py): every file but the weight formats
    transformers does not load."""
    chosen = next((p for p in patterns if any(_matches(n, p) for n in sizes)), None)
    skipped = [p for p in patterns if p != chosen] + list(NEVER)
    return sum(size for name, size in sizes.items() if not any(_matches(name, p) for p in skipped))


def stored_dtype(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    value = config.get("torch_dtype", config.get("dtype"))
    return value if isinstance(value, str) else None


def _read_config(path: Path) -> Any:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            raw = handle.read(CONFIG_LIMIT + 1)
    except OSError:
        return None
    if len(raw) > CONFIG_LIMIT:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def folder_size(folder: Path, patterns: tuple[str, ...]) -> ModelSize:
    """A model folder on disk: regular files only, hidden folders (.git, .cache) left out."""
    sizes: dict[str, int] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        sizes[relative.as_posix()] = path.stat().st_size
    return ModelSize(weight_bytes(sizes, patterns), sum(sizes.values()), stored_dtype(_read_config(folder /
                     "config.json")), f"the files of {folder}")


def _get(url: str, token: str | None, limit: int) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=HUB_TIMEOUT) as response:
        body: bytes = response.read(limit + 1)
        return body[:limit], str(response.headers.get("Link", ""))


def _next_page(link: str) -> str | None:
    for part in link.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


def hub_size(repo: str, revision: str | None, endpoint: str, token: str | None,
             patterns: tuple[str, ...]) -> tuple[ModelSize | None, str]:
    """(size, "") from the Hub's file list of REPO at REVISION, or (None, why not) when it does not answer.
    The token (a gated or private model) goes only into the Authorization header."""
    base = endpoint.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        return None, f"{base!r} is not an http(s) URL of a Hub"
    rev = urllib.parse.quote(revision or "main", safe="")
    url: str | None = f"{base}/api/models/{repo}/tree/{rev}?recursive=true"
    sizes: dict[str, int] = {}
    try:
        for _ in range(PAGES):
            if url is None:
                break
            body, link = _get(url, token, 64 << 20)
            entries = json.loads(body)
            if not isinstance(entries, list):
                return None, f"{base} answered the file list of {repo} with something else than a list"
            for entry in entries:
                if isinstance(entry, dict) and entry.get("type") == "file" and isinstance(entry.get("size"), int):
                    sizes[str(entry.get("path"))] = int(entry["size"])
            url = _next_page(link)
        config_body, _ = _get(f"{base}/{repo}/resolve/{rev}/config.json", token, CONFIG_LIMIT)
        config = json.loads(config_body) if config_body else None
    except urllib.error.HTTPError as exc:
        return None, f"{base} answered {exc.code} for {repo}@{revision or 'main'}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{base} did not answer ({type(reason).__name__})"
    if not sizes:
        return None, f"{base} lists no files for {repo}@{revision or 'main'}"
    return ModelSize(weight_bytes(sizes, patterns), fetched_bytes(sizes, patterns), stored_dtype(config),
                     f"the Hub's file list of {repo}@{revision or 'main'} ({base})"), ""
