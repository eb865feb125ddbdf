"""Run dockyard's probe inside an image, as the image's own user, and read its results.

The probe (verify/probe.py) is fed on standard input, so it also checks images dockyard did not build.
Expectations come from a spec (resolved now) or from the plan.json the image carries. Runtime- and
serve-profile images are probed on a read-only root filesystem with a writable Hugging Face cache, the
way they are meant to run; a serve image with its model baked in then runs its server (verify/serving.py).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from importlib import resources
from typing import Any

from dockyard.engine.backends import Backend, gpu_run_options
from dockyard.errors import EngineError, InputError
from dockyard.verify.report import last_json

PLAN_IN_IMAGE = "/opt/dockyard/plan.json"


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    expected: Any
    actual: Any
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    image: str
    results: tuple[ProbeResult, ...]
    read_only: bool
    gpu: bool

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def failures(self) -> list[ProbeResult]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "ok": self.ok, "read_only": self.read_only, "gpu": self.gpu,
                "checks": [r.__dict__ for r in self.results]}


def probe_source() -> str:
    return (resources.files("dockyard") / "verify" / "probe.py").read_text(encoding="utf-8")


def expectations_from_image(backend: Backend, image: str) -> dict[str, Any]:
    # Read by the image's own Python: a serve image's trimmed root has no cat (knowledge/serve.toml root-trim).
    read = f"import sys; sys.stdout.write(open({PLAN_IN_IMAGE!r}, encoding='utf-8').read())"
    argv = backend.run_argv(image, ["-c", read], ["--network", "none", "--entrypoint", "python"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise InputError(f"{image} carries no {PLAN_IN_IMAGE}: it was not built by dockyard",
                         "give the spec it was built from: dockyard verify IMAGE --spec SPEC|PRESET")
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise InputError(f"{image}: {PLAN_IN_IMAGE} is not valid JSON") from None
    return data


def run_options(expect: dict[str, Any], backend: Backend, gpu: bool) -> tuple[list[str], bool]:
    options = ["-i", "--entrypoint", "python", "--env", "DOCKYARD_EXPECT=" + json.dumps(expect, sort_keys=True)]
    read_only = expect.get("profile") in ("runtime", "serve")
    if read_only:
        home = "/root" if expect.get("user") == "root" else f"/home/{expect.get('user', 'dockyard')}"
        # An anonymous volume where a user would mount one: it starts as a copy of the image's folder,
        # so it belongs to the image's user, and goes away with the container (--rm).
        options += ["--read-only", "--tmpfs", "/tmp", "--volume", f"{home}/.cache/huggingface"]
    if gpu:
        family = {"cuda": "cuda", "rocm": "rocm", "xpu": "xpu"}.get(expect.get("torch_build", ""), "")
        family = "tpu" if expect.get("target") == "tpu" else family
        options += gpu_run_options(backend.engine, family)
    return options, read_only


def verify_image(backend: Backend, image: str, expect: dict[str, Any] | None = None, gpu: bool = False,
                 timeout: int = 900) -> VerifyReport:
    if backend.inspect(image) is None:
        raise InputError(f"no image {image!r} in {backend.engine.kind}",
                         "build it first (dockyard build) or check the name with `docker images`")
    expect = expect if expect is not None else expectations_from_image(backend, image)
    options, read_only = run_options(expect, backend, gpu)
    command = ["-", *(["--gpu"] if gpu else [])]
    argv = backend.run_argv(image, command, options)
    try:
        done = subprocess.run(argv, input=probe_source(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EngineError(f"the probes in {image} did not finish within {timeout} s") from None
    payload = last_json(done.stdout)
    if payload is None:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise EngineError(f"the probe could not run in {image} (exit {done.returncode})",
                          "; ".join(detail) or "is python on the image's PATH?")
    checks = list(payload["checks"])
    if expect.get("serve") and all(c["ok"] for c in checks):  # a broken image is not started
        from dockyard.verify.serving import check_server

        checks += check_server(backend, image, expect, gpu)
    results = tuple(ProbeResult(r["name"], bool(r["ok"]), r.get("expected"), r.get("actual"), r.get("detail", ""))
                    for r in checks)
    return VerifyReport(image, results, read_only, gpu)
