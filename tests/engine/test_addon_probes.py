"""Add-on probes and the branch-under-test model in a real build (issue 16): a CPU CI image whose job
installs transformers itself, with the add-ons that install on CPU from PyPI. `dockyard build` verifies
it with the probes; each add-on probe must have run and passed, transformers must be absent, and the
dependencies it left must be consistent."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dockyard.engine.detect import Engine

from .conftest import SPECS
from .test_build import build, checks


def test_addon_probes_and_transformers_left_for_the_job(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    result = build(cli, images, docker, str(SPECS / "addon-probes-ci.toml"), "issue-16-addon-probes", tmp_path)
    assert result.code == 0, result.err
    found = checks(result.json())
    for name in ("add-on deepspeed: launcher", "add-on bitsandbytes: 4-bit and 8-bit layers",
                 "add-on torchao: int8 weight-only quantization of a layer",
                 "add-on optimum-quanto: qint8 weights quantized and frozen",
                 "add-on gguf: GGUF reader and quantization types"):
        assert found[name]["ok"], (name, found.get(name))
    assert "add-on deepspeed: CPU Adam and fused Adam ops prebuilt" not in found, "DeepSpeed is not compiled on cpu"
    assert found["transformers left for the CI job"]["ok"]
    assert found["requirements consistent"]["ok"], found["requirements consistent"]
    assert "import transformers" not in found and "tiny model forward and generate" not in found


def test_quality_preset_has_the_originals_tools(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    """The quality preset builds and verifies, and carries what its record keeps of the original's apt list."""
    result = build(cli, images, docker, "quality", "issue-16-quality", tmp_path)
    assert result.code == 0, result.err
    assert result.json()["verify"]["ok"]
    tag = images[-1][1]
    for tool in (["jq", "--version"], ["curl", "--version"], ["make", "--version"], ["/usr/bin/time", "--version"],
                 ["git", "lfs", "version"]):
        done = subprocess.run([docker.client, "run", "--rm", "--entrypoint", tool[0], tag, *tool[1:]],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (tool, done.stderr)
