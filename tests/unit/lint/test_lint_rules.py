"""Table-driven catches / does-not-catch cases for every rule, each also run as a multi-stage variant.

Each case: (id, Dockerfile snippet, codes that must be reported, codes that must not be)."""

from __future__ import annotations

import pytest
from lint_helpers import codes

USER = "USER 1000:1000\n"

CASES: list[tuple[str, str, set[str], set[str]]] = [
    # ---- DY000 unparsable ------------------------------------------------------------------------
    ("dy000-unterminated-heredoc", "FROM python:3.12-slim\nRUN <<EOT\necho hi\n", {"DY000"}, set()),
    ("dy000-empty", "", {"DY000"}, set()),
    ("dy000-unknown-instruction", "FROM python:3.12-slim\nBOGUS x\n" + USER, {"DY000"}, set()),
    ("dy000-run-before-from", "RUN echo hi\nFROM python:3.12-slim\n" + USER, {"DY000"}, set()),
    ("dy000-env-without-value", "FROM python:3.12-slim\nENV ONLYNAME\n", {"DY000"}, set()),
    ("dy000-ok", "ARG V=3.12\nFROM python:${V}-slim\n" + USER, set(), {"DY000"}),
    # ---- DY101 torch variant vs base -------------------------------------------------------------
    (
        "dy101-cuda-base-cpu-wheel",
        "FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-cuda-major-mismatch",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-wheel-newer-minor",
        "FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-compatible-older-minor",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.7.1 --index-url https://download.pytorch.org/whl/cu126\n" + USER,
        set(),
        {"DY101"},
    ),
    (
        "dy101-local-version-label",
        "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n"
        "RUN pip install --no-cache-dir torch==2.6.0+cu126 -f https://download.pytorch.org/whl/torch_stable.html\n"
        + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-pypi-default-wrong-major",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\nRUN pip install --no-cache-dir torch==2.11.0\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-rocm-base-cuda-wheel",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cu124\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-rocm-base-rocm-wheel",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/rocm6.2.4\n" + USER,
        set(),
        {"DY101"},
    ),
    (
        "dy101-cpu-base-pypi-cuda",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir torch==2.8.0\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-cpu-base-cpu-wheel",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n" + USER,
        set(),
        {"DY101"},
    ),
    (
        "dy101-xpu-base-xpu-wheel",
        "FROM intel/deep-learning-essentials:2025.1.3-0-devel-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/xpu\n" + USER,
        set(),
        {"DY101"},
    ),
    (
        "dy101-arg-templated-base",
        "ARG CUDA=12.6.3\nFROM nvidia/cuda:${CUDA}-runtime-ubuntu24.04 AS base\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-unresolved-base-not-judged",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu\n" + USER,
        set(),
        {"DY101"},
    ),
    (
        "dy101-cpu-builder-copied-into-cuda",
        "FROM python:3.12-slim AS builder\n"
        "RUN pip install --no-cache-dir --target /opt/pkgs torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04\nCOPY --from=builder /opt/pkgs /opt/pkgs\n" + USER,
        {"DY101"},
        set(),
    ),
    (
        "dy101-uv-torch-backend",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\n"
        "RUN uv pip install --system --no-cache torch==2.8.0 --torch-backend=cu128\n" + USER,
        set(),
        {"DY101"},
    ),
    # ---- DY102 extra index -------------------------------------------------------------------------
    (
        "dy102-extra-index",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --extra-index-url https://download.pytorch.org/whl/cpu\n" + USER,
        {"DY102"},
        set(),
    ),
    (
        "dy102-env-extra-index",
        "FROM python:3.12-slim\nENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir torchvision==0.21.0\n" + USER,
        {"DY102"},
        set(),
    ),
    (
        "dy102-index-url-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu\n" + USER,
        set(),
        {"DY102"},
    ),
    (
        "dy102-local-version-not-racy",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.6.0+cpu --extra-index-url https://download.pytorch.org/whl/cpu\n"
        + USER,
        set(),
        {"DY102"},
    ),
    (
        "dy102-uv-first-index-ok",
        "FROM python:3.12-slim\n"
        "RUN uv pip install --system --no-cache torch==2.6.0 --extra-index-url https://download.pytorch.org/whl/cpu\n"
        + USER,
        set(),
        {"DY102"},
    ),
    (
        "dy102-uv-best-match",
        "FROM python:3.12-slim\nRUN uv pip install --system --no-cache --index-strategy unsafe-best-match "
        "torch==2.6.0 --extra-index-url https://download.pytorch.org/whl/cpu\n" + USER,
        {"DY102"},
        set(),
    ),
    (
        "dy102-transitive-torch",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir accelerate==1.0.0 --extra-index-url https://download.pytorch.org/whl/cu126\n"
        + USER,
        {"DY102"},
        set(),
    ),
    (
        "dy102-transitive-after-torch-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cu126\n"
        "RUN pip install --no-cache-dir accelerate==1.0.0 --extra-index-url https://download.pytorch.org/whl/cu126\n"
        + USER,
        set(),
        {"DY102"},
    ),
    (
        "dy102-transitive-no-deps-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir --no-deps timm==1.0.0 --extra-index-url https://download.pytorch.org/whl/cpu\n"
        + USER,
        set(),
        {"DY102"},
    ),
    # ---- DY103 NVIDIA-only packages ------------------------------------------------------------------
    (
        "dy103-rocm-pynvml",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\nRUN pip install --no-cache-dir pynvml==12.0.0\n" + USER,
        {"DY103"},
        set(),
    ),
    (
        "dy103-rocm-nvidia-cu12",
        "FROM rocm/pytorch:rocm7.2_ubuntu22.04_py3.10_pytorch_release_2.10.0\n"
        "RUN pip install --no-cache-dir nvidia-cublas-cu12==12.8.4.1 onnxruntime-gpu==1.22.0\n" + USER,
        {"DY103"},
        set(),
    ),
    (
        "dy103-xpu-cupy",
        "FROM intel/deep-learning-essentials:2025.1.3-0-devel-ubuntu24.04\n"
        "RUN pip install --no-cache-dir cupy-cuda12x==13.4.1\n" + USER,
        {"DY103"},
        set(),
    ),
    (
        "dy103-cpu-base-rocm-torch",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/rocm6.2.4 "
        "&& pip install --no-cache-dir nvidia-ml-py==12.570.86\n" + USER,
        {"DY103"},
        set(),
    ),
    (
        "dy103-cuda-pynvml-ok",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\nRUN pip install --no-cache-dir pynvml==12.0.0\n" + USER,
        set(),
        {"DY103"},
    ),
    (
        "dy103-rocm-uninstall-ok",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\nRUN pip uninstall -y pynvml nvidia-ml-py\n" + USER,
        set(),
        {"DY103"},
    ),
    # ---- DY104 unbounded compile -------------------------------------------------------------------
    (
        "dy104-flash-attn-no-max-jobs",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-nproc",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\n"
        "RUN MAX_JOBS=$(nproc) pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-empty-arg",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nARG MAX_JOBS\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-deepspeed-ops",
        'FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST="8.0;9.0"\n'
        "RUN DS_BUILD_FUSED_ADAM=1 pip install --no-cache-dir deepspeed==0.18.0\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-detectron2-git",
        'FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST="8.0;9.0"\nRUN pip install '
        "--no-cache-dir --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git@92ae9f0'\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-apex-clone-setup-py",
        'FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST="8.0;9.0"\nWORKDIR /src\n'
        "RUN git clone --depth 1 https://github.com/NVIDIA/apex && cd apex && python setup.py install\n" + USER,
        {"DY104"},
        set(),
    ),
    (
        "dy104-arg-max-jobs-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nARG MAX_JOBS=2\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        set(),
        {"DY104"},
    ),
    (
        "dy104-env-max-jobs-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nENV MAX_JOBS=4\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        set(),
        {"DY104"},
    ),
    (
        "dy104-deepspeed-without-ops-ok",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir deepspeed==0.18.0\n" + USER,
        set(),
        {"DY104"},
    ),
    (
        "dy104-skip-cuda-build-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\n"
        "RUN FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE pip install --no-cache-dir flash-attn==2.8.3\n" + USER,
        set(),
        {"DY104"},
    ),
    (
        "dy104-deepspeed-build-ext-j8-ok",
        'FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST="8.0;9.0"\n'
        "RUN DS_BUILD_CPU_ADAM=1 pip install --no-cache-dir deepspeed==0.18.0 --no-build-isolation "
        '--config-settings="--build-option=build_ext" --config-settings="--build-option=-j8"\n' + USER,
        set(),
        {"DY104"},
    ),
    # ---- DY105 arch list -------------------------------------------------------------------------------
    (
        "dy105-no-arch-list",
        "FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nARG MAX_JOBS=4\n"
        "RUN DS_BUILD_FUSED_ADAM=1 pip install --no-cache-dir deepspeed==0.18.0\n" + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-native",
        "FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nARG MAX_JOBS=4\nENV TORCH_CUDA_ARCH_LIST=native\n"
        "RUN pip install --no-cache-dir --no-build-isolation 'mamba-ssm==2.2.4'\n" + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-rocm-flash-attn-without-gpu-archs",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\nARG MAX_JOBS=4\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-cuda13-drops-pascal",
        'FROM nvidia/cuda:13.0.2-devel-ubuntu24.04\nENV TORCH_CUDA_ARCH_LIST="6.0;7.0;8.0;9.0"\n' + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-cuda-from-arg-default",
        "FROM ubuntu:22.04\nARG CUDA_VERSION=12.1.1\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends cuda-toolkit-12-1\n"
        'ENV TORCH_CUDA_ARCH_LIST="3.5;8.0"\n' + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-cuda-from-torch-wheels",
        "FROM ubuntu:22.04\nARG CUDA=cu124\n"
        "RUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/${CUDA}\n"
        'ARG TORCH_CUDA_ARCH_LIST="3.5;8.0"\n' + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-cuda-from-arg-default-ok",
        "FROM ubuntu:22.04\nARG CUDA_VERSION=12.1.1\n"
        'ENV TORCH_CUDA_ARCH_LIST="8.0;9.0"\n' + USER,
        set(),
        {"DY105"},
    ),
    (
        "dy105-blackwell-needs-12-8",
        'FROM nvidia/cuda:12.6.3-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST="9.0;10.0;12.0"\n' + USER,
        {"DY105"},
        set(),
    ),
    (
        "dy105-ok",
        'FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nARG MAX_JOBS=4\nENV TORCH_CUDA_ARCH_LIST="8.0;9.0;10.0;12.0+PTX"\n'
        "RUN DS_BUILD_FUSED_ADAM=1 pip install --no-cache-dir deepspeed==0.18.0\n" + USER,
        set(),
        {"DY105"},
    ),
    (
        "dy105-rocm-ok",
        'FROM rocm/dev-ubuntu-24.04:7.0-complete\nARG MAX_JOBS=4\nENV GPU_ARCHS="gfx942;gfx950"\n'
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        set(),
        {"DY105"},
    ),
    (
        "dy105-flash-attn-cuda-own-default-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nARG MAX_JOBS=4\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        set(),
        {"DY105"},
    ),
    (
        "dy105-cpu-image-ok",
        "FROM python:3.12-slim\nARG MAX_JOBS=2\nRUN pip install --no-cache-dir --no-build-isolation "
        "'detectron2 @ git+https://github.com/facebookresearch/detectron2@92ae9f0b92aba5867824b4f12aa06a22a60a45d3'\n"
        + USER,
        set(),
        {"DY105"},
    ),
    # ---- DY106 secrets ----------------------------------------------------------------------------------
    ("dy106-arg-hf-token", "FROM python:3.12-slim\nARG HF_TOKEN\n" + USER, {"DY106"}, set()),
    ("dy106-env-api-key", "FROM python:3.12-slim\nENV OPENAI_API_KEY=sk-test\n" + USER, {"DY106"}, set()),
    ("dy106-wandb-key", "FROM python:3.12-slim\nENV WANDB_KEY=abc\n" + USER, {"DY106"}, set()),
    ("dy106-password-legacy-env", "FROM python:3.12-slim\nENV DB_PASSWORD hunter2\n" + USER, {"DY106"}, set()),
    (
        "dy106-credentials-in-url",
        "FROM python:3.12-slim\nENV PIP_INDEX_URL=https://user:s3cret@pypi.example.com/simple\n" + USER,
        {"DY106"},
        set(),
    ),
    (
        "dy106-ml-false-friends",
        "FROM python:3.12-slim\nENV TOKENIZERS_PARALLELISM=false TIKTOKEN_CACHE_DIR=/cache MAX_NEW_TOKENS=64 "
        "HF_TOKEN_PATH=/run/secrets/hf GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305 "
        "BOS_TOKEN='<s>' PAD_TOKEN='<pad>'\n" + USER,
        set(),
        {"DY106"},
    ),
    ("dy106-cleared-env-ok", 'FROM python:3.12-slim\nENV HF_TOKEN=""\n' + USER, set(), {"DY106"}),
    (
        "dy106-secret-mount-ok",
        "FROM python:3.12-slim\nRUN --mount=type=secret,id=hf_token,env=HF_TOKEN python -c 'print(1)'\n" + USER,
        set(),
        {"DY106"},
    ),
    # ---- DY107 cleanup in a later layer ---------------------------------------------------------------
    (
        "dy107-apt-lists-later",
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends git\n"
        "RUN rm -rf /var/lib/apt/lists/*\n" + USER,
        {"DY107"},
        set(),
    ),
    (
        "dy107-clone-removed-later",
        "FROM python:3.12-slim\nRUN git clone --depth 1 https://github.com/org/tool /opt/tool\n"
        "RUN pip install --no-cache-dir /opt/tool\nRUN rm -rf /opt/tool\n" + USER,
        {"DY107"},
        set(),
    ),
    (
        "dy107-apt-remove-later",
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends g++ "
        "&& rm -rf /var/lib/apt/lists/*\nRUN apt-get remove -y g++\n" + USER,
        {"DY107"},
        set(),
    ),
    (
        "dy107-copy-removed-later",
        "FROM python:3.12-slim\nCOPY wheels /tmp/wheels\nRUN pip install --no-cache-dir /tmp/wheels/*.whl\n"
        "RUN rm -rf /tmp/wheels\n" + USER,
        {"DY107"},
        set(),
    ),
    (
        "dy107-same-layer-ok",
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends git "
        "&& rm -rf /var/lib/apt/lists/*\n" + USER,
        set(),
        {"DY107"},
    ),
    (
        "dy107-unrelated-rm-ok",
        "FROM python:3.12-slim\nRUN rm -f /etc/apt/apt.conf.d/docker-clean\n" + USER,
        set(),
        {"DY107"},
    ),
    # ---- DY108 full clone -------------------------------------------------------------------------------
    (
        "dy108-full-clone",
        "FROM python:3.12-slim\nRUN git clone https://github.com/huggingface/transformers /src\n" + USER,
        {"DY108"},
        set(),
    ),
    (
        "dy108-branch-checkout",
        "FROM python:3.12-slim\nARG REF=main\n"
        "RUN git clone https://github.com/huggingface/transformers /src && cd /src && git checkout $REF\n" + USER,
        {"DY108"},
        set(),
    ),
    (
        "dy108-depth-ok",
        "FROM python:3.12-slim\nRUN git clone --depth 1 --branch v4.57.1 https://github.com/huggingface/transformers\n"
        + USER,
        set(),
        {"DY108"},
    ),
    (
        "dy108-fixed-commit-ok",
        "FROM python:3.12-slim\nARG FA_COMMIT=0e60e39473e8\nRUN git clone https://github.com/Dao-AILab/flash-attention "
        "&& git -C flash-attention checkout ${FA_COMMIT}\n" + USER,
        set(),
        {"DY108"},
    ),
    # ---- DY109 root ---------------------------------------------------------------------------------------
    ("dy109-no-user", 'FROM python:3.12-slim\nCMD ["python"]\n', {"DY109"}, set()),
    ("dy109-user-root", "FROM python:3.12-slim\nUSER 1000\nUSER root\n", {"DY109"}, set()),
    ("dy109-uid-arg-zero", "FROM python:3.12-slim\nARG UID=0\nUSER ${UID}:${UID}\n", {"DY109"}, set()),
    (
        "dy109-inherited-from-stage-root",
        'FROM python:3.12-slim AS base\nFROM base AS runtime\nCMD ["python"]\n',
        {"DY109"},
        set(),
    ),
    ("dy109-user-in-final-ok", "FROM python:3.12-slim\nUSER 1000:1000\n", set(), {"DY109"}),
    ("dy109-named-user-ok", "FROM python:3.12-slim\nRUN useradd -m dockyard\nUSER dockyard\n", set(), {"DY109"}),
    (
        "dy109-inherited-user-ok",
        'FROM python:3.12-slim AS base\nUSER 1000\nFROM base AS runtime\nCMD ["python"]\n',
        set(),
        {"DY109"},
    ),
    ("dy109-unresolved-arg-not-judged", "FROM python:3.12-slim\nARG UID\nUSER ${UID}\n", set(), {"DY109"}),
    (
        "dy109-builder-root-ok",
        "FROM python:3.12-slim AS builder\nRUN echo build\nFROM python:3.12-slim\nUSER 1000\n",
        set(),
        {"DY109"},
    ),
    ("dy109-nonroot-base-ok", 'FROM gcr.io/distroless/python3-debian12:nonroot\nCMD ["app.py"]\n', set(), {"DY109"}),
    # ---- DY110 unpinned remote code -----------------------------------------------------------------------
    (
        "dy110-git-branch",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir 'git+https://github.com/huggingface/peft@main'\n" + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-git-no-ref",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir git+https://github.com/huggingface/accelerate\n" + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-curl-pipe-sh",
        "FROM python:3.12-slim\nRUN curl -LsSf https://astral.sh/uv/install.sh | sh\n" + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-wget-pipe-python",
        "FROM python:3.12-slim\nRUN wget -qO- https://bootstrap.pypa.io/get-pip.py | python3\n" + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-sh-c-curl",
        'FROM python:3.12-slim\nRUN sh -c "$(curl -fsSL https://example.com/install.sh)"\n' + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-add-moving-url",
        "FROM python:3.12-slim\nADD https://raw.githubusercontent.com/org/repo/main/setup.sh /setup.sh\n" + USER,
        {"DY110"},
        set(),
    ),
    (
        "dy110-git-sha-ok",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir "
        "'git+https://github.com/huggingface/peft@3f5b3a5c9c1a4f4e8c1d2b6a7e9f0a1b2c3d4e5f'\n" + USER,
        set(),
        {"DY110"},
    ),
    (
        "dy110-add-checksum-ok",
        "FROM python:3.12-slim\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "
        "https://example.com/main/tool.tar.gz /tmp/\n" + USER,
        set(),
        {"DY110"},
    ),
    (
        "dy110-curl-to-file-ok",
        "FROM python:3.12-slim\nRUN curl -fsSLo /tmp/x.tgz https://example.com/v1.2/x.tgz\n" + USER,
        set(),
        {"DY110"},
    ),
    # ---- DY111 package cache ------------------------------------------------------------------------------
    ("dy111-pip", "FROM python:3.12-slim\nRUN pip install transformers==4.57.1\n" + USER, {"DY111"}, set()),
    ("dy111-uv", "FROM python:3.12-slim\nRUN uv pip install --system transformers==4.57.1\n" + USER, {"DY111"}, set()),
    ("dy111-conda", "FROM condaforge/miniforge3:24.11.3-0\nRUN conda install -y numpy=2.2\n" + USER, {"DY111"}, set()),
    (
        "dy111-apt",
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends git\n" + USER,
        {"DY111"},
        set(),
    ),
    (
        "dy111-pip-global-option-before-install-ok",
        "FROM python:3.12-slim\nRUN pip --no-cache-dir install uv==0.9.5\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-pip-no-cache-ok",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-pip-env-ok",
        "FROM python:3.12-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-pip-cache-mount-ok",
        "FROM python:3.12-slim\n"
        "RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked pip install transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-parent-cache-mount-ok",
        "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache pip install transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-pip-cache-dir-mount-ok",
        "FROM python:3.12-slim\nENV PIP_CACHE_DIR=/pipcache\n"
        "RUN --mount=type=cache,target=/pipcache pip install transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-uv-mount-ok",
        "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/uv uv pip install --system "
        "transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-uv-no-cache-env-ok",
        "FROM python:3.12-slim\nENV UV_NO_CACHE=1\nRUN uv pip install --system transformers==4.57.1\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-conda-clean-ok",
        "FROM condaforge/miniforge3:24.11.3-0\nRUN conda install -y numpy=2.2 && conda clean -afy\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-apt-mounts-ok",
        "FROM python:3.12-slim\nRUN --mount=type=cache,target=/var/cache/apt,sharing=locked "
        "--mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update && apt-get install -y git\n" + USER,
        set(),
        {"DY111"},
    ),
    (
        "dy111-pip-cache-purge-ok",
        "FROM python:3.12-slim\nRUN pip install transformers==4.57.1 && pip cache purge\n" + USER,
        set(),
        {"DY111"},
    ),
    # ---- DY112 shell pitfalls ---------------------------------------------------------------------------
    (
        "dy112-unquoted-gt",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir torch>=2.6\n" + USER,
        {"DY112"},
        set(),
    ),
    ("dy112-unquoted-lt", "FROM python:3.12-slim\nRUN pip install --no-cache-dir numpy<2\n" + USER, {"DY112"}, set()),
    (
        "dy112-arg-without-dollar",
        "FROM python:3.12-slim\nARG TORCH_VISION=0.21.0\n"
        "RUN pip install --no-cache-dir 'torchvision=='TORCH_VISION'.*'\n" + USER,
        {"DY112"},
        set(),
    ),
    (
        "dy112-global-arg-not-redeclared",
        "ARG TORCH_VERSION=2.6.0\nFROM python:3.12-slim\n"
        'RUN pip install --no-cache-dir "torch==${TORCH_VERSION}"\n' + USER,
        {"DY112"},
        set(),
    ),
    (
        "dy112-quoted-ok",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir 'torch>=2.6' \"numpy<2\" > /dev/null 2>&1\n" + USER,
        set(),
        {"DY112"},
    ),
    (
        "dy112-redeclared-ok",
        "ARG TORCH_VERSION=2.6.0\nFROM python:3.12-slim\nARG TORCH_VERSION\n"
        'RUN pip install --no-cache-dir "torch==${TORCH_VERSION}"\n' + USER,
        set(),
        {"DY112"},
    ),
    # ---- DY113 devel base without compile --------------------------------------------------------------
    (
        "dy113-devel-no-compile",
        "FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu128\n" + USER,
        {"DY113"},
        set(),
    ),
    (
        "dy113-devel-via-stage-chain",
        "ARG BASE=nvidia/cuda:12.8.1-devel-ubuntu24.04\nFROM ${BASE} AS base\nFROM base AS runtime\n" + USER,
        {"DY113"},
        set(),
    ),
    ("dy113-runtime-ok", "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04\n" + USER, set(), {"DY113"}),
    (
        "dy113-compiles-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nARG MAX_JOBS=4\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n" + USER,
        set(),
        {"DY113"},
    ),
    (
        "dy113-builder-devel-runtime-final-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04 AS builder\nARG MAX_JOBS=4\n"
        "RUN pip install --no-cache-dir --no-build-isolation flash-attn==2.8.3\n"
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\nCOPY --from=builder /usr/local /usr/local\n" + USER,
        set(),
        {"DY113"},
    ),
    (
        "dy113-deepspeed-jit-ok",
        "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nRUN pip install --no-cache-dir deepspeed==0.18.0\n" + USER,
        set(),
        {"DY113"},
    ),
    # ---- DY114 search paths ------------------------------------------------------------------------------
    (
        "dy114-unset-ld-library-path",
        "FROM python:3.12-slim\nENV LD_LIBRARY_PATH=/opt/venv/lib:$LD_LIBRARY_PATH\n" + USER,
        {"DY114"},
        set(),
    ),
    ("dy114-tilde", "FROM python:3.12-slim\nENV PATH=~/.local/bin:$PATH\n" + USER, {"DY114"}, set()),
    ("dy114-double-colon", "FROM python:3.12-slim\nENV PATH=/opt/bin::/usr/bin:/bin\n" + USER, {"DY114"}, set()),
    ("dy114-relative", "FROM python:3.12-slim\nENV PATH=bin:$PATH\n" + USER, {"DY114"}, set()),
    (
        "dy114-cuda-base-sets-it-ok",
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\nENV LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH\n"
        + USER,
        set(),
        {"DY114"},
    ),
    (
        "dy114-conditional-append-ok",
        "FROM python:3.12-slim\nENV LD_LIBRARY_PATH=/opt/venv/lib${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}\n" + USER,
        set(),
        {"DY114"},
    ),
    (
        "dy114-path-ok",
        "FROM python:3.12-slim\nENV VIRTUAL_ENV=/opt/venv\nENV PATH=$VIRTUAL_ENV/bin:$PATH\n" + USER,
        set(),
        {"DY114"},
    ),
    # ---- DY115 model download ------------------------------------------------------------------------------
    (
        "dy115-from-pretrained",
        'FROM python:3.12-slim\nRUN python -c "from transformers import AutoModel; '
        "AutoModel.from_pretrained('bert-base-uncased')\"\n" + USER,
        {"DY115"},
        set(),
    ),
    ("dy115-hf-download", "FROM python:3.12-slim\nRUN hf download openai-community/gpt2\n" + USER, {"DY115"}, set()),
    (
        "dy115-heredoc-python",
        "FROM python:3.12-slim\nRUN python3 <<'PY'\nfrom huggingface_hub import snapshot_download\n"
        "snapshot_download('openai-community/gpt2')\nPY\n" + USER,
        {"DY115"},
        set(),
    ),
    (
        "dy115-hub-clone",
        "FROM python:3.12-slim\nRUN git clone --depth 1 https://huggingface.co/openai-community/gpt2 /models/gpt2\n"
        + USER,
        {"DY115"},
        set(),
    ),
    ("dy115-hf-home-only-ok", "FROM python:3.12-slim\nENV HF_HOME=/root/.cache/huggingface\n" + USER, set(), {"DY115"}),
    # ---- DY116 torch pin not protected -------------------------------------------------------------------
    (
        "dy116-later-torchvision",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir torchvision accelerate\n" + USER,
        {"DY116"},
        set(),
    ),
    (
        "dy116-later-requirements",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu "
        "&& pip install --no-cache-dir -r requirements.txt\n" + USER,
        {"DY116"},
        set(),
    ),
    (
        "dy116-constraints-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir -c /tmp/constraints.txt torchvision accelerate\n" + USER,
        set(),
        {"DY116"},
    ),
    (
        "dy116-pip-constraint-env-ok",
        "FROM python:3.12-slim\nENV PIP_CONSTRAINT=/etc/constraints.txt\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir accelerate\n" + USER,
        set(),
        {"DY116"},
    ),
    (
        "dy116-repeated-pin-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir torch==2.8.0 accelerate\n" + USER,
        set(),
        {"DY116"},
    ),
    (
        "dy116-unrelated-package-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir numpy==2.2.0 pytest==8.4.0\n" + USER,
        set(),
        {"DY116"},
    ),
    (
        "dy116-no-deps-ok",
        "FROM python:3.12-slim\n"
        "RUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "RUN pip install --no-cache-dir --no-deps timm accelerate\n" + USER,
        set(),
        {"DY116"},
    ),
]

MULTI_STAGE_PREFIX = "FROM alpine:3.20 AS unrelated\nRUN echo unrelated\n"


def _check(text: str, expect: set[str], forbid: set[str]) -> None:
    found = codes(text)
    assert expect <= found, f"missing {sorted(expect - found)}; got {sorted(found)}"
    assert not (forbid & found), f"unexpected {sorted(forbid & found)}; got {sorted(found)}"


@pytest.mark.parametrize(("text", "expect", "forbid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_case(text: str, expect: set[str], forbid: set[str]) -> None:
    _check(text, expect, forbid)


MULTI = [c for c in CASES if c[1].startswith("FROM ")]


@pytest.mark.parametrize(("text", "expect", "forbid"), [c[1:] for c in MULTI], ids=[c[0] for c in MULTI])
def test_rule_case_after_another_stage(text: str, expect: set[str], forbid: set[str]) -> None:
    """The same case with an unrelated stage before it: stage handling must not change the verdict."""
    _check(MULTI_STAGE_PREFIX + text, expect, forbid)


def test_every_rule_has_catch_and_no_catch_cases() -> None:
    from dockyard.lint.rules import RULES

    for code in RULES:
        assert any(code in c[2] for c in CASES), f"{code}: no case that catches"
        if code != "DY000":
            assert any(code in c[3] for c in CASES), f"{code}: no case that must not catch"
