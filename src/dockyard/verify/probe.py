"""dockyard probe: checks that run INSIDE an image, with nothing but the standard library and what the
image itself installed. It prints one JSON document: {"checks": [{name, ok, expected, actual, detail}]}.

    python probe.py --plan plan.json            run every check against the plan's expectations
    python probe.py --plan plan.json --gpu      also check the accelerator is visible and computes
    python probe.py --plan plan.json --warmup OUT
                                                import what the image is for and run a tiny model once,
                                                then write the source files that were loaded to OUT
                                                (the build keeps bytecode for exactly those)

Expectations come from --plan, or from the DOCKYARD_EXPECT environment variable (JSON).
This file is copied into images at /opt/dockyard/probe.py; it must stay self-contained.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

SECRET_PATHS = (
    "/run/secrets",
    "{home}/.netrc",
    "{home}/.git-credentials",
    "{home}/.cache/huggingface/token",
    "{home}/.huggingface/token",
    "/root/.netrc",
    "/root/.git-credentials",
    "/root/.cache/huggingface/token",
    "/root/.docker/config.json",
    "/etc/pip.conf",
)

RESULTS: list[dict[str, Any]] = []


def record(name: str, ok: bool, expected: Any = None, actual: Any = None, detail: str = "") -> None:
    RESULTS.append({"name": name, "ok": bool(ok), "expected": expected, "actual": actual, "detail": detail})


def guarded(name: str, func: Callable[[], None]) -> None:
    try:
        func()
    except Exception as exc:  # a probe must report, never crash
        lines = traceback.format_exception_only(type(exc), exc)
        record(name, False, detail="".join(lines).strip()[-800:])


def distribution_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_python(plan: dict[str, Any]) -> None:
    actual = f"{sys.version_info.major}.{sys.version_info.minor}"
    record("python version", actual == plan["python"], plan["python"], actual, sys.executable)


def check_versions(plan: dict[str, Any]) -> None:
    for name, expected in sorted(plan.get("versions", {}).items()):
        actual = distribution_version(name)
        base = (actual or "").split("+")[0]
        ok = actual is not None and (actual == expected or base == expected.split("+")[0])
        record(f"version {name}", ok, expected, actual)


def check_imports(plan: dict[str, Any]) -> None:
    modules = ["transformers", *plan.get("imports", [])]
    if plan.get("torch_build") != "none":
        modules.insert(0, "torch")
    for module in dict.fromkeys(modules):
        def attempt(module: str = module) -> None:
            imported = importlib.import_module(module)
            record(f"import {module}", True, actual=getattr(imported, "__version__", "ok"))
        guarded(f"import {module}", attempt)


def check_requirements(_: dict[str, Any]) -> None:
    """What `pip check` does, from installed metadata, so it works in images without pip."""
    from importlib import metadata

    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        record("requirements consistent", True, detail="packaging not installed: skipped")
        return
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()
                 if d.metadata["Name"]}
    problems = []
    environment = {key: str(value) for key, value in default_environment().items()}
    for dist in metadata.distributions():
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({**environment, "extra": ""}):
                continue
            version = installed.get(canonicalize_name(req.name))
            if version is None:
                problems.append(f"{dist.metadata['Name']} requires {req}, which is not installed")
            elif req.specifier and not req.specifier.contains(version, prereleases=True):
                problems.append(f"{dist.metadata['Name']} requires {req}, but {version} is installed")
    record("requirements consistent", not problems, "no conflicts", f"{len(problems)} conflicts",
           "; ".join(sorted(problems)[:10]))


def check_torch_build(plan: dict[str, Any]) -> None:
    build = plan.get("torch_build")
    if build == "none":
        return
    import torch

    cuda = torch.version.cuda
    hip = getattr(torch.version, "hip", None)
    xpu = bool(getattr(torch.version, "xpu", None)) or (hasattr(torch, "xpu") and torch._C._has_xpu)
    actual = "cuda " + cuda if cuda else "rocm " + hip if hip else "xpu" if xpu else "cpu"
    if build == "cpu":
        ok = not cuda and not hip and not xpu
        expected = "cpu"
    elif build == "cuda":
        expected = f"cuda {plan.get('cuda')}"
        ok = bool(cuda) and str(cuda).startswith(str(plan.get("cuda")))
    elif build == "rocm":
        expected = f"rocm {plan.get('rocm')}"
        ok = bool(hip) and str(hip).startswith(str(plan.get("rocm")))
    else:
        expected = "xpu"
        ok = xpu
    record("torch build", ok, expected, actual, f"torch {torch.__version__}")


def check_archs(plan: dict[str, Any]) -> None:
    wanted = plan.get("gpu_archs") or []
    if not wanted or plan.get("torch_build") not in ("cuda", "rocm"):
        return
    import torch

    flags = torch._C._cuda_getArchFlags() or ""
    compiled = sorted(set(flags.split()))
    if plan["torch_build"] == "rocm":
        missing = [a for a in wanted if not any(c.startswith(a) for c in compiled)]
    else:
        missing = [a for a in wanted if not _sm_covered(a, compiled)]
    record("compiled archs cover gpu-archs", not missing, wanted, compiled,
           f"not covered: {', '.join(missing)}" if missing else "")


def _sm_covered(arch: str, compiled: list[str]) -> bool:
    major, minor = arch.split("+")[0].rstrip("af").split(".")
    for item in compiled:
        kind, _, number = item.partition("_")
        number = number.rstrip("af")
        if not number.isdigit():
            continue
        c_major, c_minor = int(number[:-1]), int(number[-1])
        if kind == "sm" and c_major == int(major) and c_minor <= int(minor):
            return True
        if kind == "compute" and (c_major, c_minor) <= (int(major), int(minor)):
            return True
    return False


def tiny_model(device: str = "cpu") -> dict[str, Any]:
    """A randomly initialised two-layer Llama built from a config: no download, a forward and a generate."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = AutoModelForCausalLM.from_config(config).to(device).eval()
    ids = torch.randint(0, config.vocab_size, (1, 8), device=device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
        generated = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    return {"logits": list(logits.shape), "generated": int(generated.shape[-1])}


def check_tiny_model(plan: dict[str, Any]) -> None:
    if plan.get("torch_build") == "none":
        return
    result = tiny_model("cpu")
    record("tiny model forward and generate", result["logits"] == [1, 8, 128] and result["generated"] == 11,
           {"logits": [1, 8, 128], "generated": 11}, result)


def check_tools(plan: dict[str, Any]) -> None:
    for tool in plan.get("tools", []):
        path = shutil.which(tool)
        if not path:
            record(f"tool {tool}", False, "on PATH", None)
            continue
        flag = "--version" if tool != "ffmpeg" else "-version"
        done = subprocess.run([path, flag], capture_output=True, text=True, timeout=60)
        first = (done.stdout or done.stderr).strip().splitlines()[:1]
        record(f"tool {tool}", done.returncode == 0, "runs", first[0] if first else done.returncode)
    for library in plan.get("libraries", []):
        import ctypes.util

        found = ctypes.util.find_library(library)
        record(f"library {library}", bool(found), "loadable", found)


def check_user(plan: dict[str, Any]) -> None:
    uid = os.getuid()
    if plan.get("non_root"):
        record("runs as non-root", uid != 0, "uid != 0", uid)
    home = os.path.expanduser("~")
    hf_home = os.environ.get("HF_HOME", os.path.join(home, ".cache", "huggingface"))
    writable = os.access(hf_home, os.W_OK) if os.path.exists(hf_home) else os.access(home, os.W_OK)
    record("HF_HOME writable", writable, "writable", hf_home)


def check_secrets(_: dict[str, Any]) -> None:
    home = os.path.expanduser("~")
    found = []
    for pattern in SECRET_PATHS:
        path = pattern.format(home=home)
        if os.path.isdir(path):
            try:
                entries = os.listdir(path)
            except PermissionError:
                entries = []
            if entries:
                found.append(f"{path}/ ({len(entries)} entries)")
        elif os.path.exists(path):
            found.append(path)
    leaked = sorted(k for k in os.environ if k.upper() in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GITHUB_TOKEN"))
    record("no secret files", not found, [], found)
    record("no secret variables", not leaked, [], leaked)


def check_env(plan: dict[str, Any]) -> None:
    for name, expected in sorted(plan.get("env", {}).items()):
        actual = os.environ.get(name)
        record(f"env {name}", actual == expected, expected, actual)


def check_gpu(plan: dict[str, Any]) -> None:
    import torch

    build = plan.get("torch_build")
    if build in ("cuda", "rocm"):
        available = torch.cuda.is_available()
        record("GPU visible", available, True, torch.cuda.device_count())
        if available:
            record("GPU matmul", _matmul("cuda"), True, torch.cuda.get_device_name(0))
            result = tiny_model("cuda")
            record("tiny model on GPU", result["generated"] == 11, 11, result["generated"])
    elif build == "xpu":
        available = hasattr(torch, "xpu") and torch.xpu.is_available()
        record("XPU visible", available, True, torch.xpu.device_count() if available else 0)
        if available:
            record("XPU matmul", _matmul("xpu"), True)
    elif plan.get("target") == "tpu":
        import torch_xla.core.xla_model as xm

        device = xm.xla_device()
        record("TPU matmul", _matmul(str(device)), True, str(device))


def _matmul(device: str) -> bool:
    import torch

    a = torch.ones(64, 64, device=device)
    return bool(((a @ a).sum().item()) == 64 * 64 * 64)


CHECKS = (check_python, check_versions, check_imports, check_requirements, check_torch_build, check_archs,
          check_tiny_model, check_tools, check_user, check_secrets, check_env)


def warmup(plan: dict[str, Any], out: str) -> None:
    """Load what the image is for, once, and list the loaded source files (bytecode to keep)."""
    check_imports(plan)
    failed = [r for r in RESULTS if not r["ok"]]
    if failed:
        raise SystemExit("dockyard warm-up failed: " + "; ".join(f"{r['name']}: {r['detail']}" for r in failed))
    if plan.get("torch_build") != "none":
        tiny_model("cpu")
    files = sorted({str(m.__file__) for m in list(sys.modules.values())
                    if getattr(m, "__file__", None) and str(m.__file__).endswith(".py")})
    with open(out, "w") as handle:
        handle.write("\n".join(files) + "\n")


def load_plan(argv: list[str]) -> dict[str, Any]:
    if "--plan" in argv:
        with open(argv[argv.index("--plan") + 1]) as handle:
            plan: dict[str, Any] = json.load(handle)
            return plan
    if os.environ.get("DOCKYARD_EXPECT"):
        loaded: dict[str, Any] = json.loads(os.environ["DOCKYARD_EXPECT"])
        return loaded
    raise SystemExit("usage: probe.py --plan plan.json [--gpu] [--warmup OUT]")


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    plan = load_plan(argv)
    if "--warmup" in argv:
        warmup(plan, argv[argv.index("--warmup") + 1])
        return 0
    for check in CHECKS:
        guarded(check.__name__.replace("check_", "").replace("_", " "), functools.partial(check, plan))
    if "--gpu" in argv:
        guarded("gpu", lambda: check_gpu(plan))
    print(json.dumps({"checks": RESULTS}, default=str))
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
