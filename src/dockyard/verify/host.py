"""`dockyard verify --host`: the image probes, run in a Python environment instead of an image (this
host, a GPU or TPU VM, a running container).

The probe file runs in a child process of that Python (a crash in a GPU library cannot take dockyard
down) with `--host`: expectations from a spec or a plan.json, or none (report mode: what is installed
is shown). Afterwards the NVIDIA driver the probe read is judged against the minimum that the torch
build's CUDA needs, from the knowledge base.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import InputError, VerifyError
from dockyard.knowledge.drivers import driver_support, minimum_drivers
from dockyard.verify.run import ProbeResult, VerifyReport

PROBE = Path(__file__).with_name("probe.py")
PLAN_KEYS = ("python", "torch_build")


@dataclass(frozen=True)
class HostReport(VerifyReport):
    """A VerifyReport of a Python environment, with the facts the probe gathered (GPU devices, driver,
    installed distributions)."""

    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.image, "mode": self.facts.get("mode"), "ok": self.ok,
                "checks": [r.__dict__ for r in self.results], "facts": self.facts}


def load_plan_file(path: str) -> dict[str, Any]:
    """A plan.json (`dockyard render` writes one; dockyard images carry theirs at /opt/dockyard/plan.json)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"--plan {path}: no such file",
                         "give the plan.json of a rendered build context or /opt/dockyard/plan.json of an image")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--plan {path}: not valid JSON ({exc})", "give a plan.json that dockyard wrote") from None
    missing = [key for key in PLAN_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        raise InputError(f"--plan {path}: lacks {', '.join(missing)}; it is not a dockyard plan.json",
                         "give the plan.json of a rendered build context or /opt/dockyard/plan.json of an image")
    plan: dict[str, Any] = data
    return plan


def driver_result(gpu: dict[str, Any]) -> ProbeResult | None:
    """The NVIDIA driver against the minimum for torch's CUDA (None: no CUDA build or no driver)."""
    cuda, driver = gpu.get("cuda"), (gpu.get("driver") or {}).get("nvidia")
    if gpu.get("backend") != "cuda" or not cuda or not driver:
        return None
    native, compat = minimum_drivers(str(cuda))
    if native is None and compat is None:
        return ProbeResult("GPU driver", False, f"a known minimum for CUDA {cuda}", driver,
                           f"the knowledge base has no driver minimum for CUDA {cuda}: update knowledge/cuda.toml")
    support = driver_support(str(driver), str(cuda))
    expected = f">= {compat or native} (CUDA {cuda})"
    detail = {"native": f"runs CUDA {cuda} natively (>= {native})",
              "compat": f"runs CUDA {cuda} through minor-version compatibility only (native from {native}: "
                        "no JIT of PTX built for newer archs)",
              "no": f"too old for CUDA {cuda}: update the driver to >= {native or compat}, or install a torch "
                    "wheel variant of an older CUDA"}[support]
    return ProbeResult("GPU driver", support != "no", expected, driver, detail)


def verify_host(expect: dict[str, Any] | None = None, python: str = sys.executable, timeout: int = 900) -> HostReport:
    env = {key: value for key, value in os.environ.items() if key != "DOCKYARD_EXPECT"}
    if expect is not None:
        # Who runs the environment is the host's business: the image's user is checked by `verify IMAGE`.
        env["DOCKYARD_EXPECT"] = json.dumps({**expect, "non_root": False}, sort_keys=True)
    try:
        done = subprocess.run([python, str(PROBE), "--host"], capture_output=True, text=True, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"the host probes did not finish within {timeout} s") from None
    except OSError as exc:
        raise VerifyError(f"cannot run {python}: {exc}") from None
    payload = next((json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith("{")), None)
    if payload is None:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise VerifyError(f"the probe could not run in {python} (exit {done.returncode})", "; ".join(detail))
    results = [ProbeResult(r["name"], bool(r["ok"]), r.get("expected"), r.get("actual"), r.get("detail", ""))
               for r in payload["checks"]]
    facts: dict[str, Any] = payload.get("facts") or {}
    driver = driver_result(facts.get("gpu") or {})
    if driver is not None:
        results.append(driver)
    return HostReport(str(facts.get("python") or python), tuple(results), False, True, facts)
