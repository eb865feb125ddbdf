"""dockyard probe: checks that run INSIDE an image, with nothing but the standard library and what the
image itself installed. It prints one JSON document: {"checks": [{name, ok, expected, actual, detail}]}.

    python probe.py --plan plan.json            run every check against the plan's expectations
    python probe.py --plan plan.json --gpu      also check the accelerator is visible and computes
    python probe.py --plan plan.json --warmup OUT
                                                import what the image is for and run a tiny model once,
                                                then write the source files that were loaded to OUT
                                                (the build keeps bytecode for exactly those)
    python probe.py --host [--plan plan.json]   check the Python environment it runs in (a host, a GPU
                                                VM, a running container): the GPU section always runs;
                                                without a plan, report mode: what is installed is shown

Expectations come from --plan, or from the DOCKYARD_EXPECT environment variable (JSON).
This file is copied into images at /opt/dockyard/probe.py; it must stay self-contained.
The output also carries "facts": the raw answers of the device layer (torch.cuda, the driver) that
the GPU checks judged, so a run on a GPU machine can be committed and replayed by tests.
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
FACTS: dict[str, Any] = {}
NVIDIA_DRIVER_FILE = "/proc/driver/nvidia/version"
AMDGPU_DRIVER_FILE = "/sys/module/amdgpu/version"


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
    modules = [*(["transformers"] if _wants_transformers(plan) else []), *plan.get("imports", [])]
    if plan.get("torch_build") != "none":
        modules.insert(0, "torch")
    for module in dict.fromkeys(modules):
        def attempt(module: str = module) -> None:
            imported = importlib.import_module(module)
            record(f"import {module}", True, actual=getattr(imported, "__version__", "ok"))
        guarded(f"import {module}", attempt)


def check_requirements(plan: dict[str, Any]) -> None:
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
            if left_for_job(plan, req.name):
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


def _wants_transformers(plan: dict[str, Any]) -> bool:
    """Always, except in report mode on an environment without transformers, and in an image that leaves
    transformers to its CI job (check_transformers_for_job)."""
    if plan.get("transformers_for_job"):
        return False
    return not plan.get("report") or distribution_version("transformers") is not None


def check_tiny_model(plan: dict[str, Any]) -> None:
    if plan.get("torch_build") == "none" or not _wants_transformers(plan):
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


def read_driver() -> dict[str, str]:
    """The kernel driver's version, from /proc and /sys (nvidia-smi only as a fallback)."""
    found: dict[str, str] = {}
    for vendor, path in (("nvidia", NVIDIA_DRIVER_FILE), ("amdgpu", AMDGPU_DRIVER_FILE)):
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            continue
        words = [w for w in text.split() if w[:1].isdigit() and "." in w]
        if words:
            found[vendor] = words[0]
    smi = shutil.which("nvidia-smi")
    if "nvidia" not in found and smi:
        done = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip():
            found["nvidia"] = done.stdout.split()[0]
    return found


def gpu_facts(torch: Any) -> dict[str, Any]:
    """What torch sees of the accelerator, as plain data: the device layer the GPU checks judge."""
    cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
    xpu = hasattr(torch, "xpu") and bool(getattr(torch.version, "xpu", None) or torch._C._has_xpu)
    backend = "rocm" if hip else "cuda" if cuda else "xpu" if xpu else "cpu"
    facts: dict[str, Any] = {"backend": backend, "torch": str(torch.__version__), "cuda": cuda, "hip": hip,
                             "arch_list": [], "available": False, "devices": [], "bf16": None, "nccl": None,
                             "driver": read_driver()}
    if backend in ("cuda", "rocm"):
        facts["arch_list"] = sorted(torch.cuda.get_arch_list())
        facts["available"] = bool(torch.cuda.is_available())
        for index in range(torch.cuda.device_count() if facts["available"] else 0):
            props = torch.cuda.get_device_properties(index)
            facts["devices"].append({"index": index, "name": str(props.name),
                                     "capability": f"{props.major}.{props.minor}",
                                     "arch": str(getattr(props, "gcnArchName", "") or ""),
                                     "memory_gib": round(props.total_memory / 2**30, 1)})
        if facts["available"]:
            facts["bf16"] = bool(torch.cuda.is_bf16_supported())
        nccl = bool(torch.distributed.is_available() and torch.distributed.is_nccl_available())
        try:
            version = torch.cuda.nccl.version() if nccl else None
        except Exception:  # a build that reports NCCL but cannot load it: available, version unknown
            version = None
        facts["nccl"] = {"available": nccl, "version": ".".join(map(str, version)) if isinstance(version, tuple)
                         else None if version is None else str(version)}
    elif backend == "xpu":
        facts["available"] = bool(torch.xpu.is_available())
        for index in range(torch.xpu.device_count() if facts["available"] else 0):
            facts["devices"].append({"index": index, "name": str(torch.xpu.get_device_name(index))})
    return facts


def judge_gpu(plan: dict[str, Any], facts: dict[str, Any]) -> None:
    """Records from the device facts alone (no computation): visibility, archs against each device's
    capability, bf16, NCCL/RCCL. A plan for a GPU build fails without a GPU; report mode and CPU plans
    only show what is there."""
    backend, devices = facts["backend"], facts["devices"]
    wants_gpu = not plan.get("report") and plan.get("torch_build") in ("cuda", "rocm", "xpu")
    names = ", ".join(f"{d['index']}: {d['name']}" for d in devices)
    if not devices:
        why = ("torch is a CPU build" if backend == "cpu" else
               f"torch is a {backend} build but sees no device ({_no_device_hint(facts)})")
        record("GPU visible", not wants_gpu, plan.get("torch_build") if wants_gpu else None, 0, f"no GPU: {why}")
        return
    record("GPU visible", True, plan.get("torch_build") if wants_gpu else None, len(devices), names)
    for device in devices:
        if backend == "cuda":
            covered = _sm_covered(device["capability"], facts["arch_list"])
            wanted = f"sm_{device['capability'].replace('.', '')}"
        elif backend == "rocm":
            wanted = device["arch"].split(":")[0]
            covered = wanted in {arch.split(":")[0] for arch in facts["arch_list"]}
        else:
            continue
        record(f"GPU {device['index']} arch in torch", covered, wanted, facts["arch_list"],
               "" if covered else f"torch {facts['torch']} has no kernels for {device['name']}: "
               "install a wheel variant built for it (`dockyard doctor` lists them)")
    if facts["bf16"] is not None:
        record("GPU bf16", True, None, facts["bf16"], "" if facts["bf16"] else "no bf16: use float16 or float32")
    if facts["nccl"] is not None:
        label = "RCCL" if backend == "rocm" else "NCCL"
        record(f"{label} available", facts["nccl"]["available"], True, facts["nccl"]["version"],
               "" if facts["nccl"]["available"] else "multi-GPU training (torch.distributed) has no GPU backend")


def _no_device_hint(facts: dict[str, Any]) -> str:
    if not facts["driver"]:
        return "no GPU driver loaded on this machine"
    if "CUDA_VISIBLE_DEVICES" in os.environ or "HIP_VISIBLE_DEVICES" in os.environ:
        return "CUDA_VISIBLE_DEVICES/HIP_VISIBLE_DEVICES hides them"
    return f"driver {', '.join(f'{k} {v}' for k, v in sorted(facts['driver'].items()))} loaded; in a container, " \
           "pass the GPUs (--gpus all, or --device /dev/kfd --device /dev/dri)"


def check_gpu(plan: dict[str, Any], torch: Any = None) -> None:
    torch = torch if torch is not None else importlib.import_module("torch")
    if plan.get("target") == "tpu":
        import torch_xla.core.xla_model as xm

        device = xm.xla_device()
        record("TPU matmul", _matmul(str(device), torch), True, str(device))
        return
    facts = gpu_facts(torch)
    FACTS["gpu"] = facts
    judge_gpu(plan, facts)
    if not facts["devices"]:
        return
    device = "xpu" if facts["backend"] == "xpu" else "cuda"
    name = facts["devices"][0]["name"]
    guarded("GPU matmul", lambda: record("GPU matmul", _matmul(device, torch), True, name))
    if facts["bf16"]:
        guarded("GPU bf16 matmul",
                lambda: record("GPU bf16 matmul", _matmul(device, torch, torch.bfloat16), True, "bfloat16"))
    if _wants_transformers(plan):
        def generate() -> None:
            result = tiny_model(device)
            record("tiny model on GPU", result["generated"] == 11, 11, result["generated"])
        guarded("tiny model on GPU", generate)


def _matmul(device: str, torch: Any, dtype: Any = None) -> bool:
    a = torch.ones(64, 64, device=device, dtype=dtype)
    return bool(((a @ a).float().sum().item()) == 64 * 64 * 64)


# -- add-on probes and the CI job's transformers ------------------------------------------------------
# Each add-on probe (knowledge/addons.toml [[addon.NAME.probe]]) exercises the add-on the way transformers'
# tests use it: a launcher, prebuilt ops, a quantized layer. It runs in its own interpreter, so a crash in
# native code is reported, not fatal. GPU probes run only with --gpu.

ADDON_PROBE_TIMEOUT = 600


def run_addon_probes(plan: dict[str, Any], gpu: bool) -> None:
    for probe in plan.get("addon_probes", []):
        if bool(probe.get("gpu")) != gpu:
            continue
        name = f"add-on {probe['addon']}: {probe['name']}"
        done = subprocess.run([sys.executable, "-c", probe["code"]], capture_output=True, text=True,
                              timeout=ADDON_PROBE_TIMEOUT)
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        record(name, done.returncode == 0, "runs", "ok" if done.returncode == 0 else done.returncode,
               "" if done.returncode == 0 else " | ".join(tail)[-800:])


def check_addons(plan: dict[str, Any]) -> None:
    run_addon_probes(plan, gpu=False)


def left_for_job(plan: dict[str, Any], name: str) -> bool:
    """transformers in an image whose CI job installs it, or a package the spec excludes (removed after the
    dependency check): packages that require it are not broken."""
    normal = name.lower().replace("_", "-").replace(".", "-")
    return (bool(plan.get("transformers_for_job")) and normal == "transformers") or normal in plan.get("excluded", [])


def check_excluded(plan: dict[str, Any]) -> None:
    """What the spec excludes is not in the image, even where a dependency declares it."""
    if not plan.get("excluded"):
        return
    present = [name for name in plan["excluded"] if distribution_version(name) is not None]
    record("excluded packages absent", not present, "none installed", ", ".join(present) or "none installed")


def check_transformers_for_job(plan: dict[str, Any]) -> None:
    """A CI image that leaves transformers to its job must not carry one (the job's own would be shadowed
    or mixed with it)."""
    if not plan.get("transformers_for_job"):
        return
    actual = distribution_version("transformers")
    record("transformers left for the CI job", actual is None, "not installed", actual)


LOADERS = ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib64/ld64.so.2")
ELF_DIRS = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/local/bin", "/usr/local/lib", "/opt/python", "/opt/venv")
HOST_PROVIDED = ("libcuda.so", "libnvidia-", "libdxcore.so")  # mounted into a container by its GPU runtime


def check_libraries(plan: dict[str, Any]) -> None:
    """A root whose packages were purged (serve images): every ELF program and library left, the venv's
    included, finds each library it links (the dynamic loader's --list, as ldd does)."""
    if not plan.get("root_trimmed"):
        return
    loader = next((p for p in LOADERS if os.path.exists(p)), None)
    if loader is None:
        record("shared libraries resolve", False, "a dynamic loader", None, f"none of {', '.join(LOADERS)}")
        return
    checked, missing = 0, []
    for top in ELF_DIRS:
        for folder, _, names in os.walk(top):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as handle:
                        if handle.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                done = subprocess.run([loader, "--list", path], capture_output=True, text=True, timeout=60)
                checked += 1
                # A library's missing dependency is listed "=> not found"; a missing direct one stops the
                # loader (exit 127): "error while loading shared libraries: NAME: cannot open shared object file".
                libraries = [line.strip().split(" ", 1)[0] for line in done.stdout.splitlines()
                             if "=> not found" in line]
                if "cannot open shared object file" in done.stderr:
                    libraries.append(done.stderr.split("shared libraries: ", 1)[-1].split(":", 1)[0].strip())
                missing += [f"{path} needs {library}" for library in libraries if not library.startswith(HOST_PROVIDED)]
    record("shared libraries resolve", not missing, "every library found", f"{checked} ELF files checked",
           "; ".join(missing[:10]))


CHECKS = (check_python, check_versions, check_imports, check_requirements, check_torch_build, check_archs,
          check_tiny_model, check_tools, check_user, check_secrets, check_env, check_addons,
          check_transformers_for_job, check_excluded, check_libraries)
# On a host the secrets and the image's user are not the question (a host has its own credentials).
HOST_CHECKS = tuple(c for c in CHECKS if c is not check_secrets)


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


def installed_plan() -> dict[str, Any]:
    """Report mode (--host without a plan): the expectations are what is installed, so nothing is
    compared and every check shows what is there."""
    build, cuda, hip = "none", None, None
    if distribution_version("torch") is not None:
        import torch

        cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
        xpu = bool(getattr(torch.version, "xpu", None))
        build = "rocm" if hip else "cuda" if cuda else "xpu" if xpu else "cpu"
    tpu = distribution_version("torch_xla") is not None and (
        os.environ.get("PJRT_DEVICE") == "TPU" or bool(os.environ.get("TPU_ACCELERATOR_TYPE"))
        or os.path.exists("/dev/accel0"))
    return {"name": "host", "report": True, "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "target": "tpu" if tpu else None, "torch_build": build, "cuda": cuda, "rocm": hip, "gpu_archs": [],
            "versions": {}, "imports": [], "env": {}, "non_root": False}


def installed() -> dict[str, str]:
    from importlib import metadata

    return dict(sorted((str(d.metadata["Name"]), d.version) for d in metadata.distributions() if d.metadata["Name"]))


def load_plan(argv: list[str]) -> dict[str, Any]:
    if "--plan" in argv:
        with open(argv[argv.index("--plan") + 1]) as handle:
            plan: dict[str, Any] = json.load(handle)
            return plan
    if os.environ.get("DOCKYARD_EXPECT"):
        loaded: dict[str, Any] = json.loads(os.environ["DOCKYARD_EXPECT"])
        return loaded
    if "--host" in argv:
        return installed_plan()
    raise SystemExit("usage: probe.py --plan plan.json [--gpu] [--warmup OUT] | probe.py --host [--plan plan.json]")


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    plan = load_plan(argv)
    if "--warmup" in argv:
        warmup(plan, argv[argv.index("--warmup") + 1])
        return 0
    host = "--host" in argv
    for check in HOST_CHECKS if host else CHECKS:
        guarded(check.__name__.replace("check_", "").replace("_", " "), functools.partial(check, plan))
    if plan.get("torch_build") == "none":
        if host:
            record("GPU visible", True, None, 0, "no GPU probes: torch is not installed in this environment")
    elif host or "--gpu" in argv:
        guarded("gpu", lambda: check_gpu(plan))
        guarded("add-on gpu probes", lambda: run_addon_probes(plan, gpu=True))
    output: dict[str, Any] = {"checks": RESULTS}
    if host:
        FACTS.update(mode="report" if plan.get("report") else "plan", python=sys.executable, installed=installed())
        output["facts"] = FACTS
    print(json.dumps(output, default=str, sort_keys=True))
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
