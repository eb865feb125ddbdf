"""What the image benchmarks share: the docker client dockyard detects, the site settings that
scripts/setup.sh writes (local base, proxy CA, wheelhouse), and a `docker` call that stops the run with
the engine's own words when a step fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class Harness:
    def __init__(self) -> None:
        from dockyard.engine.detect import detect
        from dockyard.engine.maps import load_maps, site_default

        self.engine = detect("docker")
        self.env = {**os.environ, **self.engine.env}
        self.base = load_maps((), ()).base_image("python:3.11-slim-bookworm")
        self.ca = site_default("ca-cert") or os.environ.get("PIP_CERT", "")
        self.wheelhouse = Path(site_default("wheelhouse") or os.environ.get("PIP_FIND_LINKS", "/opt/wheels"))
        self.made: list[str] = []

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.engine.client, *args], capture_output=True, text=True, env=self.env)
        if check and done.returncode != 0:
            raise SystemExit(f"docker {' '.join(args[:3])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done
