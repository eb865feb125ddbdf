"""torch 2.15 and transformers 5.25 resolve, build and verify here (issue 25). The spec leaves the wheel
variant open: the knowledge has only cu132 for 2.15 (the build PyPI serves), so that is what resolves;
verify runs its probes on the CPU. Then the companions' compiled code runs (torchaudio 2.11.1's C++
extension and kernels, torchvision 0.29.2's ops), which is what proves their pairing with torch 2.15.0,
and the compiled arch list equals the knowledge row measured from the same wheel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from packaging.version import Version

from dockyard.engine.detect import Engine
from dockyard.knowledge.loader import Knowledge

from .conftest import SPECS

TAG = os.environ.get("DOCKYARD_TEST_TAG", "dockyard-test")

COMPANIONS = """
import torch, torchaudio, torchvision
from torchaudio._extension import _IS_TORCHAUDIO_EXT_AVAILABLE
assert _IS_TORCHAUDIO_EXT_AVAILABLE, "torchaudio's C++ extension did not load against this torch"
wave = torch.sin(torch.arange(16000) / 10.0).unsqueeze(0)
assert torchaudio.functional.resample(wave, 16000, 8000).shape == (1, 8000)
filtered = torchaudio.functional.lfilter(wave[:, :100], torch.tensor([1.0, -0.5]), torch.tensor([0.5, 0.5]))
assert filtered.shape == (1, 100)
emission = torch.randn(1, 10, 5).log_softmax(-1)
alignment, _ = torchaudio.functional.forced_align(emission, torch.tensor([[1, 2, 3]], dtype=torch.int32), blank=0)
assert alignment.shape == (1, 10)
from torchvision.ops import nms
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float)
assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
print("ARCHS", " ".join(torch._C._cuda_getArchFlags().split()))
print("VERSIONS", torch.__version__, torchvision.__version__, torchaudio.__version__)
"""


def test_torch_215_with_transformers_525_builds_and_verifies(cli, images, docker: Engine,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    tag = f"{TAG}/torch-215:{docker.kind}"
    images.append((docker.client, tag))
    result = cli(["build", str(SPECS / "torch-215-cuda.toml"), "--backend", "docker", "--tag", tag, "--json",
                  "--log", str(tmp_path / "build.log")])
    assert result.code == 0, result.err[-3000:]
    assert "torch 2.15 are not in the knowledge base" in result.err, "the note names the variant gap"
    report: dict[str, Any] = result.json()
    assert report["verify"]["ok"], [c for c in report["verify"]["checks"] if not c["ok"]]
    found = {c["name"]: c for c in report["verify"]["checks"]}
    assert found["torch build"]["actual"] == "cuda 13.2"
    for name, version in (("torch", "2.15.0"), ("torchvision", "0.29.2"), ("torchaudio", "2.11.1"),
                          ("transformers", "5.25.0")):
        assert found[f"version {name}"]["actual"] == version, name
    assert found["tiny model forward and generate"]["ok"] and found["compiled archs cover gpu-archs"]["ok"]

    run = subprocess.run([docker.client, "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", tag,
                          "python", "-W", "ignore", "-c", COMPANIONS],
                         capture_output=True, text=True, timeout=300, env={**os.environ, **docker.env})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines() if " " in line)
    assert lines["VERSIONS"] == "2.15.0+cu132 0.29.2+cu132 2.11.1+cu132"
    known = Knowledge.load().wheel_archs("cu132", Version("2.15.0"))
    assert known is not None
    expected = [f"sm_{a.replace('.', '').removesuffix('+PTX')}" for a in known]
    expected += [f"compute_{a.replace('.', '').removesuffix('+PTX')}" for a in known if a.endswith("+PTX")]
    assert sorted(lines["ARCHS"].split()) == sorted(expected), "cuda.toml's cu132 row for 2.15 is what the wheel has"
