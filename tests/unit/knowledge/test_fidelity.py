"""Fidelity records: every preset that reproduces one of transformers' images says what it does with every
item of the original, and its plan agrees with the record (no package kept on paper and missing in the
image, none installed that the record does not account for). The capabilities issue 16 listed are held
here as facts about the resolved plans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.errors import SpecError
from dockyard.knowledge.fidelity import Entry, Record, load_record, record_from_dict
from dockyard.knowledge.loader import preset_dir, preset_names
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
from dockyard.verify.records import drift

OWN = ("cpu-inference", "cpu-serve")  # dockyard's own images: they reproduce none of transformers'
REPRODUCING = [name for name in preset_names() if name not in OWN]


def plan_of(name: str) -> Plan:
    return resolve(load(name))


def record_of(name: str) -> Record:
    record = load_record(preset_dir() / f"{name}.toml")
    assert record is not None, f"preset {name} has no [fidelity] record"
    return record


def test_every_reproducing_preset_has_a_record() -> None:
    missing = [name for name in REPRODUCING if load_record(preset_dir() / f"{name}.toml") is None]
    assert not missing, f"presets without a [fidelity] record: {missing}"
    for name in OWN:
        assert load_record(preset_dir() / f"{name}.toml") is None, f"dockyard's own {name} reproduces nothing"


@pytest.mark.parametrize("name", REPRODUCING)
def test_plan_matches_its_record(name: str) -> None:
    problems = drift(record_of(name), plan_of(name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", REPRODUCING)
def test_every_dropped_item_says_why_with_a_source(name: str) -> None:
    for entry in record_of(name).entries:
        if entry.status == "dropped":
            assert entry.why.strip() and entry.source.strip(), entry
        if entry.status == "replaced":
            assert entry.by.strip() and entry.why.strip(), entry


def test_drift_catches_a_kept_package_the_plan_lacks() -> None:
    record = record_of("torch-light")
    lying = replace(record, entries=(*record.entries, Entry("packages", "gptqmodel", "kept")))
    assert drift(lying, plan_of("torch-light")) == [
        "preset torch-light [fidelity].packages: 'gptqmodel' is recorded as kept, but the plan lacks it"]


def test_drift_catches_a_plan_package_the_record_does_not_account_for() -> None:
    record = record_of("torch-light")
    silent = replace(record, entries=tuple(e for e in record.entries if e.name != "timm"))
    problems = drift(silent, plan_of("torch-light"))
    assert len(problems) == 1 and "the plan has 'timm', which the record does not account for" in problems[0]


def test_drift_catches_system_packages_env_and_providers() -> None:
    plan = plan_of("transformers-intel-cpu")
    record = record_of("transformers-intel-cpu")
    kept = [e for e in record.entries if e.name not in ("numactl", "KMP_BLOCKTIME", "torchao")]
    edited = (*kept,
              Entry("packages", "rouge-score", "provided", by="extra:evaluate"),
              Entry("system", "libgomp1", "added", why="claimed"),
              Entry("packages", "torchao", "dropped", why="x", source="y"))
    problems = drift(replace(record, entries=edited), plan)
    joined = "\n".join(problems)
    assert "the plan has 'numactl'" in joined
    assert "the plan has 'KMP_BLOCKTIME'" in joined
    assert "'rouge-score' is recorded as provided by 'extra:evaluate', but the plan does not have 'extra:evaluate'" \
        in joined
    assert "'libgomp1' is recorded as added, but the plan lacks it" in joined
    assert "'torchao' is recorded as dropped, but the plan has it" in joined


def test_drift_checks_what_an_extra_really_installs() -> None:
    """transformers 5.22's testing extra (PyPI metadata, knowledge/transformers.toml) has no requests-mock."""
    record = record_of("transformers-pytorch-xpu")
    wrong = Entry("packages", "requests-mock", "provided", by="extra:testing")
    claim = replace(record, entries=(*record.entries, wrong))
    (problem,) = drift(claim, plan_of("transformers-pytorch-xpu"))
    assert "'requests-mock' is recorded as provided by 'extra:testing', but the testing extra does not install it" \
        in problem


@pytest.mark.parametrize(("table", "message"), [
    ({"original": "x", "packages": {"lost": {"a": {"why": "w", "source": "s"}}}}, "unknown status 'lost'"),
    ({"original": "x", "packages": {"dropped": {"a": {"why": "w"}}}}, "dropped needs why and source"),
    ({"original": "x", "packages": {"replaced": {"a": {"why": "w"}}}}, "replaced needs by and why"),
    ({"original": "x", "packages": {"provided": {"a": "wheel:x"}}}, "unknown provider"),
    ({"original": "x", "packages": {"kept": ["A_b"], "added": {"a-b": "why"}}}, "is both kept and added"),
    ({"original": "x", "volumes": {}}, "unknown table 'volumes'"),
    ({"packages": {}}, "needs original"),
])
def test_malformed_records_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        record_from_dict("p", {"fidelity": table})


def test_a_spec_file_may_carry_a_record(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "mine.toml"
    path.write_text('[image]\ntarget = "cpu"\n[fidelity]\noriginal = "my Dockerfile"\n'
                    '[fidelity.packages]\nkept = ["torch", "transformers"]\n', encoding="utf-8")
    record = load_record(path)
    assert record is not None and not drift(record, resolve(load(str(path))))


# -- the capabilities issue 16 named, as facts of the resolved plans -------------------------------------

def packages(plan: Plan) -> set[str]:
    return {p.name for p in plan.packages} | {a.name for a in plan.addons}


def test_quantization_keeps_the_originals_libraries() -> None:
    plan = plan_of("transformers-quantization-latest-gpu")
    assert {"amd-quark", "fp-quant", "bitsandbytes", "hqq", "gguf", "optimum-quanto", "compressed-tensors",
            "auto-round", "torchao"} <= packages(plan)
    record = record_of("transformers-quantization-latest-gpu")
    dropped = {e.name for e in record.select("packages", "dropped")}
    assert {"gptqmodel", "autoawq"} <= dropped
    # fouroversix: its sdist built in a step of its own, without build isolation, as the original builds it
    (fouroversix,) = [a for a in plan.addons if a.name == "fouroversix"]
    assert fouroversix.own_step and fouroversix.no_build_isolation and not fouroversix.compile
    assert dict(fouroversix.build_env) == {"SKIP_CUDA_BUILD": "1"}


def test_xpu_keeps_oneccl_mpi_deepspeed_and_numactl() -> None:
    plan = plan_of("transformers-pytorch-xpu")
    env = dict(plan.env)
    assert env["CCL_ATL_TRANSPORT"] == "ofi"
    assert {"mpi4py", "deepspeed", "onnx", "onnxruntime", "optimum", "diffusers", "sentence-transformers", "trl",
            "evaluate", "kenlm", "decord"} <= packages(plan)
    assert {"numactl", "clinfo"} <= set(plan.system_packages)
    # what the original installs and no fact rules out, pinned (issue 20)
    assert {"fire", "rouge-score", "sacrebleu", "requests-mock", "schedulefree", "hf-transfer", "pytorch-msssim",
            "mergekit", "torchdata", "essentia", "pretty-midi", "resampy"} <= packages(plan)
    # torchao's +xpu build from the XPU index, torchcodec's CPU build, Triton's run-time compilers
    (torchao,) = [a for a in plan.addons if a.name == "torchao"]
    assert torchao.index_url == "https://download.pytorch.org/whl/xpu"
    codec = {c.name: c for c in plan.torch.companions}["torchcodec"]
    assert codec.index_url == "https://download.pytorch.org/whl/cpu"
    assert {"build-essential", "libze-dev"} <= set(plan.system_packages) and plan.python_headers
    decided = {e.name for e in record_of("transformers-pytorch-xpu").entries}
    assert "intel-ocloc" in decided and any("intel-media-va-driver-non-free" in name for name in decided)


def test_intel_cpu_has_jemalloc_and_says_why_not_the_oneapi_base() -> None:
    plan = plan_of("transformers-intel-cpu")
    assert "libjemalloc2" in plan.system_packages and "mpi4py" in packages(plan)
    record = record_of("transformers-intel-cpu")
    assert any("deep-learning-essentials" in e.name for e in record.select("steps", "replaced"))
    assert {"galore-torch", "fire", "rouge-score", "pytorch-msssim", "kenlm"} <= packages(plan)
    assert any("IPEX" in e.why for e in record.select("packages", "dropped"))


def test_amd_builds_detectron2_and_refuses_gfx1151_with_the_reason() -> None:
    assert "detectron2" in packages(plan_of("transformers-pytorch-amd-gpu"))
    steps = record_of("transformers-pytorch-amd-gpu").select("steps", "dropped")
    assert any("gfx1151" in e.name and "hipErrorInvalidImage" in e.why for e in steps)


def test_deepspeed_probes_check_the_launcher_and_prebuilt_ops() -> None:
    expected = plan_of("transformers-pytorch-deepspeed-latest-gpu").expectations()["addon_probes"]
    names = {p["name"] for p in expected}
    assert {"launcher", "CPU Adam and fused Adam ops prebuilt", "CPU Adam op loads"} <= names
    doc_builder = plan_of("transformers-doc-builder").expectations()["addon_probes"]
    assert "CPU Adam and fused Adam ops prebuilt" not in {p["name"] for p in doc_builder}, \
        "ops are not prebuilt where DeepSpeed is not compiled"


def test_small_ones_time_ssh_espeak_jq_curl_and_the_tpu_entrypoint() -> None:
    for name in ("torch-light", "pipeline-torch", "examples-torch"):
        system = set(plan_of(name).system_packages)
        assert {"time", "openssh-client", "espeak-ng"} <= system, name
    assert {"jq", "curl", "time"} <= set(plan_of("quality").system_packages)
    entrypoint = record_of("transformers-pytorch-tpu").select("entrypoint", "replaced")
    assert entrypoint and "XRT" in entrypoint[0].name and "PJRT_DEVICE" in entrypoint[0].by


def test_what_every_image_carries_counts_as_in_the_plan() -> None:
    """ca-certificates and tini are in every final image: a record may keep them, and may not drop them."""
    record = record_of("transformers-gpu")
    assert any(e.name == "ca-certificates" for e in record.select("system", "kept"))
    claim = replace(record, entries=(*record.entries, Entry("system", "tini", "dropped", why="x", source="y")))
    assert drift(claim, plan_of("transformers-gpu")) == [
        "preset transformers-gpu [fidelity].system: 'tini' is recorded as dropped, but the plan has it"]


# -- issue 20: the originals' content, as facts of the plans ------------------------------------------------

def test_all_latest_excludes_ninja_and_pairs_the_originals_companions() -> None:
    """ninja reaches no final image of all-latest (quanto pulls it in; the original uninstalls it); torchaudio
    2.11.0 pairs with torch 2.14 (cu130); torchcodec comes from the CPU index; onnxruntime-gpu."""
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
    steps = {e.name for e in record_of("transformers-pytorch-tpu").select("steps")}
    assert not any("pytest at build time" in name for name in steps), "the original installs pytest, never runs it"
