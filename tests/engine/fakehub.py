"""A local stand-in for the Hugging Face Hub: enough of its HTTP API for `huggingface_hub.snapshot_download`
to fetch one model folder at one commit (repo info, then each file's metadata and content). It records
the Authorization header of every request, so a test can prove the build used the token it was given.
It listens on the address it is given (loopback, or the container bridge a build can reach); nothing else.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class FakeHub:
    repo: str
    commit: str
    folder: Path
    authorizations: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file())


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            hub.authorizations.append(self.headers.get("Authorization", ""))
            hub.paths.append(f"{self.command} {self.path}")
            path = self.path.split("?", 1)[0]
            info = f"/api/models/{hub.repo}/revision/"
            if path.startswith(info):
                siblings = [{"rfilename": name} for name in hub.files()]
                body = json.dumps({"id": hub.repo, "modelId": hub.repo, "sha": hub.commit, "siblings": siblings,
                                   "private": False, "tags": []}).encode()
                self._answer(body, headers={"Content-Type": "application/json"})
                return
            tree = f"/api/models/{hub.repo}/tree/"
            if path.startswith(tree):
                entries = [{"type": "file", "path": name, "size": (hub.folder / name).stat().st_size,
                            "oid": hashlib.sha1((hub.folder / name).read_bytes()).hexdigest()}
                           for name in hub.files()]
                self._answer(json.dumps(entries).encode(), headers={"Content-Type": "application/json"})
                return
            resolve = f"/{hub.repo}/resolve/"
            if path.startswith(resolve):
                name = path[len(resolve):].split("/", 1)[1]
                target = hub.folder / name
                if not target.is_file():
                    self._answer(b"{}", 404, {"X-Error-Code": "EntryNotFound"})
                    return
                data = target.read_bytes()
                etag = hashlib.sha256(data).hexdigest() if len(data) > 1_000_000 else hashlib.sha1(data).hexdigest()
                self._answer(data, headers={"ETag": f'"{etag}"', "X-Repo-Commit": hub.commit,
                                            "Content-Type": "application/octet-stream"})
                return
            self._answer(b"{}", 404)

    return Handler


@contextmanager
def serve_hub(hub: FakeHub, host: str = "127.0.0.1") -> Iterator[FakeHub]:
    server = ThreadingHTTPServer((host, 0), _handler(hub))
    hub.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
