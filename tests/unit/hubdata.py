"""A local HTTP server answering the two Hub API calls dockyard's deploy makes to size a hub: model:
the file list (`/api/models/REPO/tree/REV`, with each file's size) and config.json. The sizes are
declared, not written, so a many-GiB model costs nothing. Paths and Authorization headers are recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextmanager
def hub_with_weights(folder: Path, repo: str, revision: str, weights: int, dtype: str,
                     seen: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """Serve REPO@REVISION as two safetensors shards of `weights` bytes in all, stored in `dtype`."""
    files = [{"type": "file", "path": "config.json", "size": 600},
             {"type": "file", "path": "model-00001-of-00002.safetensors", "size": weights // 2},
             {"type": "file", "path": "model-00002-of-00002.safetensors", "size": weights - weights // 2},
             {"type": "file", "path": "pytorch_model.bin", "size": weights * 2},
             {"type": "file", "path": "tokenizer.json", "size": 2_000_000}]
    config = json.dumps({"model_type": "llama", "torch_dtype": dtype}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if seen is not None:
                seen.append((self.path, self.headers.get("Authorization", "")))
            path = self.path.split("?", 1)[0]
            if path == f"/api/models/{repo}/tree/{revision}":
                body = json.dumps(files).encode()
            elif path == f"/{repo}/resolve/{revision}/config.json":
                body = config
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
