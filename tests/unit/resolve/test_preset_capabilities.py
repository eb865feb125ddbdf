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
            "evaluate", "kenlm", "decord"} <= packages(plan)
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


# -- issue 20: the originals' content, as facts of the plans (their comparison: tests/unit/readback) ---------

def test_quantization_builds_fouroversix_as_the_original_does() -> None:
    plan = plan_of("transformers-quantization-latest-gpu")
    (fouroversix,) = [a for a in plan.addons if a.name == "fouroversix"]
    assert fouroversix.own_step and fouroversix.no_build_isolation and not fouroversix.compile
    assert dict(fouroversix.build_env) == {"SKIP_CUDA_BUILD": "1"}


def test_xpu_pins_what_the_original_installs() -> None:
    plan = plan_of("transformers-pytorch-xpu")
    assert {"fire", "rouge-score", "sacrebleu", "requests-mock", "schedulefree", "hf-transfer", "pytorch-msssim",
            "mergekit", "torchdata", "essentia", "pretty-midi", "resampy", "kenlm"} <= packages(plan)
    (torchao,) = [a for a in plan.addons if a.name == "torchao"]
    assert torchao.index_url == "https://download.pytorch.org/whl/xpu"
    codec = {c.name: c for c in plan.torch.companions}["torchcodec"]
    assert codec.index_url == "https://download.pytorch.org/whl/cpu"
    assert {"build-essential", "libze-dev"} <= set(plan.system_packages) and plan.python_headers


def test_intel_cpu_pins_what_the_original_installs() -> None:
    plan = plan_of("transformers-intel-cpu")
    assert {"galore-torch", "fire", "rouge-score", "pytorch-msssim", "kenlm"} <= packages(plan)


def test_all_latest_excludes_ninja_and_pairs_the_originals_companions() -> None:
    plan = plan_of("transformers-all-latest-gpu")
    assert plan.excluded() == ("ninja",) and "ninja" in plan.expectations()["excluded"]
    companions = {c.name: c for c in plan.torch.companions}
    assert companions["torchaudio"].version == "2.11.0" and not companions["torchaudio"].index_url
    assert companions["torchcodec"].index_url == "https://download.pytorch.org/whl/cpu"
    assert "onnxruntime-gpu" in packages(plan) and "onnxruntime" not in packages(plan)
    assert "git lfs install --skip-repo --system" in plan.system_setup


def test_deepspeed_images_keep_their_toolchain_where_the_job_rebuilds_ops() -> None:
    for name in ("transformers-pytorch-deepspeed-latest-gpu", "transformers-pytorch-deepspeed-nightly-gpu"):
        plan = plan_of(name)
        assert plan.runtime_base == "nvidia/cuda:12.6.3-devel-ubuntu24.04", name
        assert {"build-essential", "libaio-dev"} <= set(plan.system_packages), name
        assert plan.keep_torch_headers and plan.python_headers, name
    assert dict(plan_of("transformers-pytorch-deepspeed-latest-gpu").env)["TORCH_CUDA_ARCH_LIST"] == "8.0;8.6;8.9;9.0"
    assert "libaio-dev" not in plan_of("transformers-pytorch-deepspeed-amd-gpu").system_packages


def test_amd_has_the_audio_extra_and_no_curl() -> None:
    plan = plan_of("transformers-pytorch-amd-gpu")
    assert "audio" in plan.transformers.extras and "curl" not in plan.system_packages
    assert {c.name: c.version for c in plan.torch.companions}["torchaudio"] == "2.11.0"


def test_cpu_presets_honour_the_originals_torch_caps() -> None:
    assert plan_of("torch-light").torch.version == "2.11.0"
    assert {c.name: c.version for c in plan_of("torch-light").torch.companions} == {
        "torchaudio": "2.11.0", "torchcodec": "0.11.1", "torchvision": "0.26.0"}
    assert plan_of("consistency").torch.version == "2.11.0"
    assert plan_of("exotic-models").torch.version == "2.14.0"


def test_custom_tokenizers_downloads_unidic_and_swaps_catch() -> None:
    plan = plan_of("custom-tokenizers")
    assert plan.package_data == (("unidic", "python -m unidic download"),)
    (jumanpp,) = plan.addons
    assert dict(jumanpp.script_env)["CATCH_URL"].endswith("/v2.13.8/catch.hpp")


def test_tpu_checks_torch_xla_and_runs_bash() -> None:
    plan = plan_of("transformers-pytorch-tpu")
    assert "torch_xla" in plan.imports and plan.cmd == ("bash",)
