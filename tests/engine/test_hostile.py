"""A spec full of shell and BuildKit syntax builds into an image that holds it as data (issue 15).

The env value, the description and an argv carry `$(...)`, backquotes, `${VAR}`, quotes and
backslashes: in the built image's config they are exactly what the spec says (nothing was run or
expanded), and the app folder (with a link inside the spec's folder) is copied as it is.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dockyard.engine.detect import Engine

from .test_build import build

VALUE = "$(touch /tmp/pwned) `id` ${HOME} $PATH 'single' \"double\" back\\slash; rm -rf / #"


def test_hostile_values_stay_data_in_a_real_image(cli, images, docker: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "app.py").write_text("print('issue 15')\n", encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").symlink_to(tmp_path / "real" / "app.py")
    escaped = VALUE.replace("\\", "\\\\").replace('"', '\\"')
    spec = tmp_path / "hostile.toml"
    spec.write_text(f'[image]\nextends = "cpu-inference"\ndescription = "{escaped}"\nfiles = ["app"]\n'
                    f'cmd = ["python", "app/main.py", "{escaped}"]\n[image.env]\nHOSTILE = "{escaped}"\n',
                    encoding="utf-8")
    result = build(cli, images, docker, str(spec), "issue-15-hostile", tmp_path)
    assert result.code == 0, result.err
    assert result.json()["verify"]["ok"]
    tag = images[-1][1]
    config = json.loads(subprocess.run([docker.client, "image", "inspect", tag], capture_output=True, text=True,
                                       check=True).stdout)[0]["Config"]
    assert f"HOSTILE={VALUE}" in config["Env"]
    assert config["Labels"]["org.opencontainers.image.description"] == VALUE
    assert config["Cmd"] == ["python", "app/main.py", VALUE]
    run = subprocess.run([docker.client, "run", "--rm", "--entrypoint", "sh", tag, "-c",
                          'printf %s "$HOSTILE"; test ! -e /tmp/pwned && cat /app/app/main.py'],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == VALUE + "print('issue 15')\n"
