"""The capabilities issue 16 asked of the presets that reproduce transformers' images, held as facts of the
resolved plans (what each keeps of its original is computed: tests/unit/readback/test_fidelity.py)."""

from __future__ import annotations

from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load


def plan_of(name: str) -> Plan:
    return resolve(load(name))


def packages(plan: Plan) -> set[str]:
    return {p.name for p in plan.packages} | {a.name for a in plan.addons}


def test_quantization_keeps_the_originals_libraries() -> None:
    plan = plan_of("transformers-quantization-latest-gpu")
    assert {"amd-quark", "fp-quant", "bitsandbytes", "hqq", "gguf", "optimum-quanto", "compressed-tensors",
            "auto-round", "torchao"} <= packages(plan)


def test_xpu_keeps_oneccl_mpi_deepspeed_and_numactl() -> None:
    plan = plan_of("transformers-pytorch-xpu")
    env = dict(plan.env)
    assert env["CCL_ATL_TRANSPORT"] == "ofi"
    assert {"mpi4py", "deepspeed", "onnx", "onnxruntime", "optimum", "diffusers", "sentence-transformers", "trl",
            "evaluate", "pypi-kenlm", "decord"} <= packages(plan)
    assert {"numactl", "clinfo"} <= set(plan.system_packages)


def test_intel_cpu_has_jemalloc_and_mpi() -> None:
    plan = plan_of("transformers-intel-cpu")
    assert "libjemalloc2" in plan.system_packages and "mpi4py" in packages(plan)


def test_amd_builds_detectron2() -> None:
    assert "detectron2" in packages(plan_of("transformers-pytorch-amd-gpu"))


def test_deepspeed_probes_check_the_launcher_and_prebuilt_ops() -> None:
    expected = plan_of("transformers-pytorch-deepspeed-latest-gpu").expectations()["addon_probes"]
    names = {p["name"] for p in expected}
    assert {"launcher", "CPU Adam and fused Adam ops prebuilt", "CPU Adam op loads"} <= names
    doc_builder = plan_of("transformers-doc-builder").expectations()["addon_probes"]
    assert "CPU Adam and fused Adam ops prebuilt" not in {p["name"] for p in doc_builder}, \
        "ops are not prebuilt where DeepSpeed is not compiled"


def test_small_ones_time_ssh_espeak_jq_curl() -> None:
    for name in ("torch-light", "pipeline-torch", "examples-torch"):
        system = set(plan_of(name).system_packages)
        assert {"time", "openssh-client", "espeak-ng"} <= system, name
    assert {"jq", "curl", "time"} <= set(plan_of("quality").system_packages)
