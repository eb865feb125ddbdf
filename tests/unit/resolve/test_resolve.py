"""resolve as a table: specs that must resolve (and to what), specs that must be refused (and how), and
legal but risky specs that resolve with a warning.

A refusal goes through the CLI (`dockyard check FILE`): exit 2, no traceback, and a message that names the
file, the key, the value, the fact (with its source where the fact comes from the knowledge base) and
the nearest valid choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from ..conftest import CliRunner, SpecWriter

SHA = "0123456789abcdef0123456789abcdef01234567"

# Sources quoted by refusals (a fragment of each knowledge [sources] entry is enough to tell which).
SRC_TEST_INFRA = "github.com/pytorch/test-infra"
SRC_PYPI_TORCH = "PyPI wheel listings per Python version"
SRC_PYPI_TRANSFORMERS = "PyPI wheel metadata of every transformers release"
SRC_PYTHON_IMAGES = "docker-library/python"
SRC_WHEEL_ARCHS = "TORCH_CUDA_ARCH_LIST of the official wheels"
SRC_BNB = "bitsandbytes-foundation/bitsandbytes"
SRC_HF_DEEPSPEED = "transformers-pytorch-deepspeed-latest-gpu/Dockerfile"
SRC_FLASH_ATTN = "Dao-AILab/flash-attention"
SRC_ARCH_DB = "select_compute_arch.cmake"


@dataclass(frozen=True)
class Good:
    """A spec (the body of [image]) and what resolve must choose for it."""

    id: str
    body: str
    torch: str | None
    variant: str
    python: str
    base: str
    transformers: str | None
    builder: str | None = None  # None: same as base
    packages: dict[str, str | None] = field(default_factory=dict)
    companions: dict[str, str] = field(default_factory=dict)
    addons: dict[str, str | None] = field(default_factory=dict)
    gpu_archs: tuple[str, ...] | None = None
    warning: str = ""  # a fragment every plan warning must be matched by; "" means no warnings at all
    note: str = ""
    compile: bool = False


CU132_BASE = "nvidia/cuda:13.2.1-base-ubuntu24.04"
CU130_BASE = "nvidia/cuda:13.0.3-base-ubuntu24.04"
CU126_BASE = "nvidia/cuda:12.6.3-base-ubuntu24.04"
CUDA13_ARCHS = ("8.0", "8.6", "8.9", "9.0", "10.0", "12.0")
CUDA12_ARCHS = ("8.0", "8.6", "8.9", "9.0")

GOOD: list[Good] = [
    Good("cpu-default", 'target = "cpu"', "2.14.1", "cpu", "3.14", "python:3.14-slim-bookworm", "5.25.0"),
    Good("cpu-torch-minor", 'target = "cpu"\ntorch = "2.6"', "2.6.0", "cpu", "3.13", "python:3.13-slim-bookworm",
         "5.25.0"),
    Good("cpu-torch-patch", 'target = "cpu"\ntorch = "2.9.0"', "2.9.0", "cpu", "3.14", "python:3.14-slim-bookworm",
         "5.25.0"),
    Good("cpu-torch-range", 'target = "cpu"\ntorch = ">=2.5,<2.7"', "2.6.0", "cpu", "3.13",
         "python:3.13-slim-bookworm", "5.25.0"),
    Good("cpu-transformers-4", 'target = "cpu"\npython = "3.10"\ntorch = "2.5"\ntransformers = "4.57"', "2.5.1",
         "cpu", "3.10", "python:3.10-slim-bookworm", "4.57.6"),
    Good("cpu-python-pinned", 'target = "cpu"\npython = "3.12"', "2.14.1", "cpu", "3.12",
         "python:3.12-slim-bookworm", "5.25.0"),
    Good("cuda-default", 'target = "cuda"', "2.15.0", "cu132", "3.14", CU132_BASE, "5.25.0",
         gpu_archs=CUDA13_ARCHS, note="installs CPython 3.14"),
    Good("cuda-2.14-cu130", 'target = "cuda"\ntorch = "2.14"', "2.14.1", "cu130", "3.14", CU130_BASE, "5.25.0",
         gpu_archs=CUDA13_ARCHS),
    Good("cuda-torch-2.6-cu126", 'target = "cuda"\ntorch = "2.6"\nvariant = "cu126"', "2.6.0", "cu126", "3.13",
         CU126_BASE, "5.25.0", gpu_archs=CUDA12_ARCHS),
    Good("cuda-native-python-noble", 'target = "cuda"\nvariant = "cu126"\npython = "3.12"', "2.14.1", "cu126",
         "3.12", CU126_BASE, "5.25.0"),
    Good("cuda-native-python-jammy", 'target = "cuda"\nvariant = "cu126"\npython = "3.10"\ntransformers = "5.20.0"',
         "2.14.1", "cu126", "3.10", "nvidia/cuda:12.6.3-base-ubuntu22.04", "5.20.0"),
    Good("cuda-hopper-only", 'target = "cuda"\ngpu-archs = ["9.0"]', "2.15.0", "cu132", "3.14", CU132_BASE, "5.25.0",
         gpu_archs=("9.0",)),
    Good("cuda-volta-picks-cuda12", 'target = "cuda"\ngpu-archs = ["7.0"]', "2.14.1", "cu126", "3.14", CU126_BASE,
         "5.25.0", gpu_archs=("7.0",)),
    Good("cuda-deepspeed-cu126", 'target = "cuda"\nvariant = "cu126"\naddons = ["deepspeed"]', "2.14.1", "cu126",
         "3.14", CU126_BASE, "5.25.0", builder="nvidia/cuda:12.6.3-devel-ubuntu24.04",
         addons={"deepspeed": "0.19.8"}, compile=True),
    Good("cuda-deepspeed-avoids-cuda13", 'target = "cuda"\naddons = ["deepspeed"]', "2.14.1", "cu126", "3.14",
         CU126_BASE, "5.25.0", builder="nvidia/cuda:12.6.3-devel-ubuntu24.04", addons={"deepspeed": "0.19.8"},
         compile=True),
    Good("cuda-flash-attn", 'target = "cuda"\naddons = ["flash-attn"]', "2.15.0", "cu132", "3.14", CU132_BASE,
         "5.25.0", builder="nvidia/cuda:13.2.1-devel-ubuntu24.04", addons={"flash-attn": "2.8.3.post2"},
         gpu_archs=CUDA13_ARCHS, compile=True),
    Good("cuda-nightly", 'target = "cuda"\ntorch = "nightly"\nvariant = "cu126"', None, "cu126", "3.14", CU126_BASE,
         "5.25.0", warning="nightly"),
    Good("cuda-explicit-base", 'target = "cuda"\nbase = "nvidia/cuda:13.0.3-runtime-ubuntu24.04"', "2.15.0", "cu132",
         "3.14", "nvidia/cuda:13.0.3-runtime-ubuntu24.04", "5.25.0", note="given in the spec"),
    Good("cuda-base-picks-its-cuda", 'target = "cuda"\nbase = "nvidia/cuda:12.6.3-base-ubuntu24.04"', "2.14.1",
         "cu126", "3.14", "nvidia/cuda:12.6.3-base-ubuntu24.04", "5.25.0", note="(cu132) skipped: carries CUDA 12.6"),
    Good("rocm-default", 'target = "rocm"', "2.14.1", "rocm7.14", "3.14", "ubuntu:24.04", "5.25.0",
         gpu_archs=("gfx90a", "gfx942", "gfx950")),
    Good("rocm-torch-2.6", 'target = "rocm"\ntorch = "2.6"', "2.6.0", "rocm6.2.4", "3.13", "ubuntu:22.04", "5.25.0",
         gpu_archs=("gfx90a", "gfx942")),
    Good("xpu-default", 'target = "xpu"', "2.14.1", "xpu", "3.14", "ubuntu:24.04", "5.25.0"),
    Good("tpu-default", 'target = "tpu"', "2.9.1", "cpu", "3.13", "python:3.13-slim-bookworm", "5.25.0"),
    Good("intel-cpu", 'target = "intel-cpu"', "2.14.1", "cpu", "3.14", "python:3.14-slim-bookworm", "5.25.0",
         packages={"intel-openmp": "2026.2.0"}),
    Good("cpu-without-torch", 'target = "cpu"\ntorch = "none"\nextras = ["quality"]', None, "none", "3.14",
         "python:3.14-slim-bookworm", "5.22.2"),
    Good("cpu-vision", 'target = "cpu"\nmodalities = ["text", "vision"]', "2.14.1", "cpu", "3.14",
         "python:3.14-slim-bookworm", "5.25.0", packages={"pillow": "13.0.0"}, companions={"torchvision": "0.29.1"}),
    # torchaudio ended at 2.11 and pairs with later torch (abi3), but only in the variants torch 2.11 shipped
    Good("cpu-audio-final-torchaudio", 'target = "cpu"\ntorch = "2.14"\nmodalities = ["audio"]', "2.14.1", "cpu",
         "3.14", "python:3.14-slim-bookworm", "5.25.0",
         packages={"librosa": "1.0.1", "soundfile": "0.14.0", "soxr": "1.1.0"}, companions={"torchaudio": "2.11.0"}),
    Good("cu132-audio-no-torchaudio", 'target = "cuda"\ntorch = "2.14"\nvariant = "cu132"\nmodalities = ["audio"]',
         "2.14.1", "cu132", "3.14", "nvidia/cuda:13.2.1-base-ubuntu24.04", "5.25.0",
         packages={"librosa": "1.0.1", "soundfile": "0.14.0", "soxr": "1.1.0"},
         note="no torchaudio release pairs with torch 2.14.1 (cu132)"),
    Good("cpu-audio-torchaudio", 'target = "cpu"\ntorch = "2.11"\nmodalities = ["audio"]', "2.11.0", "cpu", "3.14",
         "python:3.14-slim-bookworm", "5.25.0",
         packages={"librosa": "1.0.1", "soundfile": "0.14.0", "soxr": "1.1.0"}, companions={"torchaudio": "2.11.0"}),
    Good("cpu-audio-exclude", 'target = "cpu"\ntorch = "2.11"\nmodalities = ["audio"]\nexclude = ["librosa"]',
         "2.11.0", "cpu", "3.14", "python:3.14-slim-bookworm", "5.25.0",
         packages={"soundfile": "0.14.0", "soxr": "1.1.0"}, companions={"torchaudio": "2.11.0"}),
    Good("cpu-video-torchcodec", 'target = "cpu"\ntorch = "2.13"\nmodalities = ["video"]', "2.13.0", "cpu", "3.14",
         "python:3.14-slim-bookworm", "5.25.0", packages={"av": "19.0.2"}, companions={"torchcodec": "0.14.0"}),
    Good("cpu-torchao-paired", 'target = "cpu"\ntorch = "2.9"\naddons = ["torchao"]', "2.9.1", "cpu", "3.14",
         "python:3.14-slim-bookworm", "5.25.0", addons={"torchao": "0.15.0"}),
    Good("cpu-addon-pinned", 'target = "cpu"\naddons = ["bitsandbytes==0.45.0"]', "2.14.1", "cpu", "3.14",
         "python:3.14-slim-bookworm", "5.25.0", addons={"bitsandbytes": "0.45.0"}),
    Good("cpu-packages", 'target = "cpu"\npackages = ["einops", "rich==13.9.4", "numpy>=1.26"]', "2.14.1", "cpu",
         "3.14", "python:3.14-slim-bookworm", "5.25.0",
         packages={"einops": "0.8.2", "rich": "13.9.4", "numpy": None}, warning="a range, not a pin"),
    Good("cpu-transformers-main", 'target = "cpu"\ntransformers = "main"', "2.14.1", "cpu", "3.14",
         "python:3.14-slim-bookworm", "main", warning="can move"),
    Good("cpu-transformers-sha", f'target = "cpu"\ntransformers = "git:{SHA}"', "2.14.1", "cpu", "3.14",
         "python:3.14-slim-bookworm", SHA, note="git ref"),
    Good("cpu-root", 'target = "cpu"\nuser = "root"', "2.14.1", "cpu", "3.14", "python:3.14-slim-bookworm", "5.25.0",
         warning="run as root"),
    Good("extends-preset", 'extends = "cpu-inference"\npython = "3.12"', "2.13.0", "cpu", "3.12",
         "python:3.12-slim-bookworm", "5.25.0"),
    Good("cpu-dev-profile", 'target = "cpu"\nprofile = "dev"', "2.14.1", "cpu", "3.14", "python:3.14-slim-bookworm",
         "5.25.0", compile=True),
]


def plan_for(write_spec: SpecWriter, body: str) -> Plan:
    return resolve(load(str(write_spec(f"[image]\n{body}\n"))))


@pytest.mark.parametrize("case", GOOD, ids=[c.id for c in GOOD])
def test_good_spec_resolves_to(case: Good, write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, case.body)
    assert plan.torch.version == case.torch
    assert plan.torch.variant == case.variant
    assert plan.python == case.python
    assert plan.runtime_base == case.base
    assert plan.builder_base == (case.builder or case.base)
    assert (plan.transformers.version or plan.transformers.ref) == case.transformers
    assert {p.name: p.version for p in plan.packages} == case.packages
    assert {p.name: p.version for p in plan.torch.companions} == case.companions
    assert {a.name: a.version for a in plan.addons} == case.addons
    assert plan.compile == case.compile
    if case.gpu_archs is not None:
        assert plan.gpu_archs == case.gpu_archs
    if case.warning:
        assert plan.warnings and all(case.warning in w for w in plan.warnings), plan.warnings
    else:
        assert plan.warnings == ()
    if case.note:
        assert any(case.note in n for n in plan.notes), plan.notes
    if case.torch and case.variant != "none":
        assert plan.torch.index_url == f"https://download.pytorch.org/whl/{case.variant}"


@pytest.mark.parametrize("case", GOOD, ids=[c.id for c in GOOD])
def test_good_spec_checks_with_exit_0(case: Good, write_spec: SpecWriter, run_cli: CliRunner) -> None:
    result = run_cli(["check", str(write_spec(f"[image]\n{case.body}\n"))])
    assert result.code == 0, result.err
    assert "error:" not in result.err
    assert "Traceback" not in result.err


def test_tpu_plan_pairs_torch_xla(write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, 'target = "tpu"')
    assert plan.torch.xla is not None
    assert (plan.torch.xla.name, plan.torch.xla.version, plan.torch.xla.extras) == ("torch-xla", "2.9.0", ("tpu",))
    assert dict(plan.env)["PJRT_DEVICE"] == "TPU"


def test_rocm_plan_uninstalls_nvml_packages(write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, 'target = "rocm"')
    assert {"pynvml", "nvidia-ml-py"} <= set(plan.uninstall)


@dataclass(frozen=True)
class Bad:
    """A spec file that must be refused: what the message must name."""

    id: str
    text: str  # the whole file (some cases are not valid TOML)
    key: str | None  # e.g. "[image].torch"
    value: str | None  # as the message shows it
    fact: tuple[str, ...]  # fragments of the fact, including its source where the knowledge base has one
    suggestion: str  # a fragment of the nearest valid choices, or of the fix


def image(body: str) -> str:
    return f"[image]\n{body}\n"


BAD: list[Bad] = [
    # the refusals issue 2 names
    Bad("torch-2.6-has-no-cu130", image('target = "cuda"\ntorch = "2.6"\nvariant = "cu130"'), "[image].torch",
        "'2.6'", ("torch 2.6.0 has no wheel for variant cu130", SRC_TEST_INFRA),
        "torch releases with cu130 wheels: 2.9, 2.10, 2.11, 2.12, 2.13, 2.14"),
    Bad("python-outside-torch", image('target = "cpu"\ntorch = "2.4"\npython = "3.13"'), "[image].torch", "'2.4'",
        ("torch 2.4 has no wheels for Python 3.13", SRC_PYPI_TORCH), 'python = "3.12"'),
    Bad("python-outside-torch-range-suggests-torch", image('target = "cpu"\ntorch = "2.4"\npython = "3.13"'),
        "[image].torch", "'2.4'", ("3.8, 3.9, 3.10, 3.11, 3.12",), 'torch = "2.14"'),
    Bad("python-outside-transformers", image('target = "cpu"\npython = "3.10"\ntransformers = "5.24.0"'),
        "[image].python", "'3.10'", ("not supported by transformers 5.24.0", SRC_PYPI_TRANSFORMERS),
        "Nearest valid choices: 3.11, 3.12, 3.13, 3.14"),
    Bad("python-outside-images", image('target = "cpu"\npython = "3.8"'), "[image].python", "'3.8'",
        ("not supported by the official python images", SRC_PYTHON_IMAGES), "Nearest valid choices: 3.10"),
    Bad("sm70-with-cu130", image('target = "cuda"\nvariant = "cu130"\ngpu-archs = ["7.0"]'), "[image].gpu-archs",
        "'7.0'", ("do not ship sm 7.0", SRC_WHEEL_ARCHS, "CUDA 13 dropped Volta", SRC_ARCH_DB),
        'works with variant = "cu126"'),
    Bad("bitsandbytes-on-tpu", image('target = "tpu"\naddons = ["bitsandbytes"]'), "[image].addons",
        "'bitsandbytes'", ("bitsandbytes is not supported on target tpu", SRC_BNB),
        "it supports cuda, rocm, xpu, cpu, intel-cpu"),
    Bad("deepspeed-on-cuda13", image('target = "cuda"\nvariant = "cu130"\naddons = ["deepspeed"]'), "[image].variant",
        "'cu130'", ("deepspeed on CUDA 13.0", "compute_60", SRC_HF_DEEPSPEED), 'works with variant = "cu126"'),
    Bad("deepspeed-on-cuda13-with-torch", image('target = "cuda"\ntorch = "2.14"\nvariant = "cu130"\n'
                                                'addons = ["deepspeed"]'),
        "[image].variant", "'cu130'", ("deepspeed on CUDA 13.0", SRC_HF_DEEPSPEED), 'works with variant = "cu126"'),
    Bad("unknown-target", image('target = "cuda12"'), "[image].target", '"cuda12"', ("unknown value",),
        'did you mean "cuda"?'),
    Bad("unknown-addon", image('target = "cpu"\naddons = ["deepspeeed"]'), "[image].addons", "'deepspeeed'",
        ("unknown add-on", "known add-ons: apex"), 'did you mean "deepspeed"?'),
    Bad("unknown-modality", image('target = "cpu"\nmodalities = ["visoin"]'), "[image].modalities", '"visoin"',
        ("unknown value",), 'did you mean "vision"?'),
    Bad("unknown-key", image('target = "cpu"\ntorhc = "2.6"'), "[image].torhc", None, ("unknown key",),
        'did you mean "torch"?'),
    Bad("unknown-top-level-table", '[imgae]\ntarget = "cpu"\n', None, "'imgae'", ("unknown table or key",),
        'did you mean "image"?'),
    Bad("malformed-toml", '[image\ntarget = "cpu"\n', None, None, ("not valid TOML", "line 1"),
        "check quoting and brackets"),
    Bad("torch-not-a-version", image('target = "cpu"\ntorch = "latest"'), "[image].torch", "'latest'",
        ("not a version or specifier",), '"nightly" or "none"'),
    Bad("transformers-not-a-version", image('target = "cpu"\ntransformers = "newest"'), "[image].transformers",
        "'newest'", ("not a version",), '"main" or "git:<commit sha>"'),
    # more refusals
    Bad("transformers-too-new-for-torch", image('target = "cpu"\ntorch = "2.3"\ntransformers = "5.24.0"'),
        "[image].transformers", "'5.24.0'", ("does not support torch 2.3.1", "PyPI metadata"),
        'transformers = "5.0.0"'),
    Bad("transformers-unknown-release", image('target = "cpu"\ntransformers = "9.0"'), "[image].transformers",
        "'9.0'", ("matches no release dockyard knows", "newest known 5.25.0", "refreshed from PyPI on"),
        "refresh_knowledge.py"),
    Bad("torch-unknown-release", image('target = "cpu"\ntorch = "9.9"'), "[image].torch", "'9.9'",
        ("matches no torch release dockyard knows", "refreshed from PyPI on"), "--knowledge DIR"),
    Bad("torch-variants-unknown", image('target = "cpu"\ntorch = "2.15"'), "[image].torch", "'2.15'",
        ("the cpu wheels of torch 2.15 are not in the knowledge base", '[[gap]] "torch 2.15 variants"'),
        'torch = "2.14"'),
    Bad("torch-variant-unknown-for-release", image('target = "cuda"\ntorch = "2.15"\nvariant = "cu130"'),
        "[image].torch", "'2.15'", ("the cu130 wheels of torch 2.15 are not in the knowledge base",),
        "torch releases with cu130 wheels"),
    Bad("variant-of-other-family", image('target = "cuda"\nvariant = "rocm6.2"'), "[image].variant", "'rocm6.2'",
        ("is a rocm wheel variant, but target cuda uses cuda wheels",), "cu126, cu128, cu129, cu130, cu132"),
    Bad("variant-unknown", image('target = "cuda"\nvariant = "cu200"'), "[image].variant", "'cu200'",
        ("no torch release dockyard knows has cu200 wheels", SRC_TEST_INFRA), "cu126, cu128, cu129, cu130"),
    Bad("variant-not-a-variant", image('target = "cuda"\nvariant = "gpu"'), "[image].variant", "'gpu'",
        ("not a torch wheel variant",), "cu130"),
    Bad("xpu-before-2.5", image('target = "xpu"\ntorch = "2.4"'), "[image].torch", "'2.4'",
        ("torch 2.4 has no xpu wheels",), 'torch = "2.14"'),
    Bad("tpu-without-xla-pair", image('target = "tpu"\ntorch = "2.12"'), "[image].torch", "'2.12'",
        ("no torch_xla release pairs with torch 2.12", "known pairs: 2.9, 2.8"), 'torch = "2.9"'),
    Bad("addon-needs-newer-torch", image('target = "cpu"\ntorch = "2.9"\naddons = ["compressed-tensors"]'),
        "[image].torch", "'2.9'", ("compressed-tensors needs torch >=2.10", "compressed-tensors requires torch>=2.10"),
        'torch = "2.14"'),
    Bad("flash-attn-on-cuda11", image('target = "cuda"\ntorch = "2.6"\nvariant = "cu118"\naddons = ["flash-attn"]'),
        "[image].variant", "'cu118'", ("FlashAttention 2 needs CUDA 12.0 or newer", SRC_FLASH_ATTN),
        'works with variant = "cu124"'),
    Bad("flash-attn-on-turing", image('target = "cuda"\naddons = ["flash-attn"]\ngpu-archs = ["7.5", "8.0"]'),
        "[image].gpu-archs", "['7.5']", ("flash-attn supports sm 8.0 and newer only", SRC_FLASH_ATTN), "drop 7.5"),
    Bad("gpu-archs-on-cpu", image('target = "cpu"\ngpu-archs = ["8.0"]'), "[image].gpu-archs", "['8.0']",
        ("applies to cuda and rocm targets, not cpu",), "remove gpu-archs"),
    Bad("cuda-arch-on-rocm", image('target = "rocm"\ngpu-archs = ["9.0"]'), "[image].gpu-archs", "'9.0'",
        ("is a CUDA capability",), "gfx942"),
    Bad("gfx-not-in-wheels", image('target = "rocm"\ntorch = "2.6"\ngpu-archs = ["gfx950"]'), "[image].gpu-archs",
        "'gfx950'", ("is not built into the rocm6.2.4 wheels", "PR 164854"), "gfx942"),
    Bad("torch-none-on-cuda", image('target = "cuda"\ntorch = "none"'), "[image].torch", "'none'",
        ("only possible for target cpu",), 'target = "cpu"'),
    Bad("addon-not-on-target", image('target = "cpu"\naddons = ["apex"]'), "[image].addons", "'apex'",
        ("apex is not supported on target cpu", "github.com/NVIDIA/apex"), "it supports cuda"),
    Bad("source-addon-at-a-moving-name", image('target = "cuda"\naddons = ["apex@"]'), "[image].addons", "'apex@'",
        ("not an add-on entry",), '"name@commit"'),
    Bad("gfx1151-on-upstream-wheels", image('target = "rocm"\ngpu-archs = ["gfx1151"]'), "[image].gpu-archs",
        "'gfx1151'", ("hipErrorInvalidImage", "transformers-pytorch-amd-gpu-gfx1151/Dockerfile @0003888f"),
        "AMD's gfx1151 wheels"),
    Bad("pypi-addon-at-ref", image('target = "cpu"\naddons = ["deepspeed@abc"]'), "[image].addons",
        "'deepspeed@abc'", ("installs from PyPI",), "deepspeed==X"),
    Bad("unknown-extra", image('target = "cpu"\nextras = ["sentencepeice"]'), "[image].extras", "'sentencepeice'",
        ("not an extra of transformers 5.25.0",), 'did you mean "sentencepiece"?'),
    Bad("torch-in-packages", image('target = "cpu"\npackages = ["torch==2.5"]'), "[image].packages", "'torch==2.5'",
        ("not in packages",), "set torch with [image].torch"),
    Bad("base-of-other-accelerator", image('target = "cuda"\nbase = "rocm/dev-ubuntu-22.04:6.2"'), "[image].base",
        "'rocm/dev-ubuntu-22.04:6.2'", ("is a rocm image", "installs cuda wheels"), "installs cuda wheels"),
    Bad("base-of-other-cuda-major", image('target = "cuda"\nvariant = "cu130"\n'
                                          'base = "nvidia/cuda:12.6.3-base-ubuntu24.04"'),
        "[image].base", "'nvidia/cuda:12.6.3-base-ubuntu24.04'", ("carries CUDA 12.6",), "pick an nvidia/cuda 13.x"),
    Bad("wrong-type", image('target = "cpu"\npython = 3.11'), "[image].python", "3.11", ("must be a string",),
        'python = "3.11"'),
    Bad("string-for-list", image('target = "cpu"\naddons = "deepspeed"'), "[image].addons", "'deepspeed'",
        ("must be a list of strings",), 'addons = ["deepspeed"]'),
    Bad("python-not-minor", image('target = "cpu"\npython = "3.11.4"'), "[image].python", '"3.11.4"',
        ("is not a Python minor version",), 'python = "3.11"'),
    Bad("secret-env", image('target = "cpu"\n[image.env]\nHF_TOKEN = "x"'), "[image].env", "HF_TOKEN",
        ("looks like a secret",), "docker run -e HF_TOKEN"),
    Bad("missing-target", image('python = "3.12"'), "[image].target", None, ("is required",), 'target = "cpu"'),
    Bad("extends-unknown-preset", image('extends = "cpu-inferense"'), "[image].extends", "'cpu-inferense'",
        ("neither a spec file nor a preset",), 'did you mean "cpu-inference"?'),
    Bad("pip-option-in-packages", image('target = "cpu"\npackages = ["--index-url=https://x"]'), "[image].packages",
        "'--index-url=https://x'", ("is not a valid entry",), "dockyard sets indexes itself"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_spec_is_refused_with_a_clear_message(case: Bad, write_spec: SpecWriter, run_cli: CliRunner) -> None:
    path = write_spec(case.text)
    result = run_cli(["check", str(path)])
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    err = result.err
    assert "Traceback" not in err
    assert err.startswith("error: ")
    assert str(path) in err, "the message names the file"
    if case.key:
        assert case.key in err, "the message names the key"
    if case.value:
        assert case.value in err, "the message shows the value"
    for fact in case.fact:
        assert fact in err, f"the message states the fact: {fact!r}"
    assert case.suggestion in err, "the message says what to do instead"


def test_every_problem_is_reported_at_once(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    path = write_spec(image('target = "cuda"\nvariant = "cu130"\ngpu-archs = ["7.0"]\nextras = ["sentencepeice"]'))
    result = run_cli(["check", str(path)])
    assert result.code == 2
    assert "problems:" in result.err
    assert "[image].gpu-archs" in result.err and "[image].extras" in result.err


def test_extends_cycle_is_refused(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    first = write_spec(image('extends = "second.toml"'), "first.toml")
    write_spec(image('extends = "first.toml"'), "second.toml")
    result = run_cli(["check", str(first)])
    assert result.code == 2
    assert "is a cycle" in result.err


def test_extends_a_missing_file_names_the_spec(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    path = write_spec(image('extends = "missing.toml"'))
    result = run_cli(["check", str(path)])
    assert result.code == 2
    assert f"{path}: [image].extends = 'missing.toml'" in result.err
    assert "no such spec file" in result.err


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ('target = "cpu"\nuser = "root"', "[image].user = 'root'", "the image will run as root"),
        ('target = "cpu"\ntransformers = "main"', "[image].transformers = 'main'", "can move"),
        ('target = "cpu"\ntransformers = "git:v5.24.0"', "[image].transformers = 'git:v5.24.0'", "can move"),
        ('target = "cpu"\naddons = ["detectron2@main"]', "[image].addons = 'detectron2@main'", "can move"),
        ('target = "cpu"\npackages = ["numpy>=1.26"]', "[image].packages = 'numpy>=1.26'", "a range, not a pin"),
        ('target = "cpu"\npackages = ["not-known-anywhere"]', "[image].packages", "not pinned"),
    ],
    ids=["root-user", "transformers-main", "transformers-tag", "addon-ref", "package-range", "package-unknown"],
)
def test_risky_spec_warns_with_exit_0(body: str, key: str, fragment: str, write_spec: SpecWriter,
                                      run_cli: CliRunner) -> None:
    path = write_spec(image(body))
    result = run_cli(["check", str(path)])
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert any(key in w and fragment in w and str(path) in w for w in warnings), result.err


def test_pinned_git_ref_does_not_warn(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    result = run_cli(["check", str(write_spec(image(f'target = "cpu"\ntransformers = "git:{SHA}"')))])
    assert result.code == 0
    assert "warning:" not in result.err


def test_resolve_is_deterministic(write_spec: SpecWriter) -> None:
    path = str(write_spec(image('target = "cuda"\naddons = ["flash-attn", "bitsandbytes"]\n'
                                'modalities = ["text", "vision", "audio"]')))
    assert resolve(load(path)) == resolve(load(path))


def test_preset_source_is_named_in_refusals(run_cli: CliRunner, tmp_path: Path) -> None:
    """A spec that extends a preset and breaks it is reported against the user's file, not the preset."""
    path = tmp_path / "gpu.toml"
    path.write_text(image('extends = "transformers-pytorch-deepspeed-latest-gpu"\nvariant = "cu130"'))
    result = run_cli(["check", str(path)])
    assert result.code == 2
    assert f"{path}: [image].variant = 'cu130'" in result.err
    assert "deepspeed on CUDA 13.0" in result.err
