# syntax=docker/dockerfile:1.7
# A CUDA inference image in the shape dockyard renders: named stages, cache mounts, a CA secret,
# torch from its own index, later installs constrained, compile bounded, non-root final stage.
ARG BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG BUILD_IMAGE=nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04

FROM ${BASE_IMAGE} AS base
ARG DEBIAN_FRONTEND=noninteractive
ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv tini
RUN useradd --create-home --uid 1000 dockyard

FROM ${BUILD_IMAGE} AS builder
ARG DEBIAN_FRONTEND=noninteractive
ARG TORCH_VERSION=2.8.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG MAX_JOBS=2
ENV TORCH_CUDA_ARCH_LIST="8.0;8.6;9.0;10.0;12.0+PTX" \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
    && python3 -m venv /opt/venv
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=ca \
    --mount=type=bind,source=dockyard/fetch.sh,target=/run/dockyard/fetch.sh \
    sh /run/dockyard/fetch.sh pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
    && echo "torch==${TORCH_VERSION}" > /opt/constraints.txt
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=ca \
    --mount=type=bind,source=dockyard/requirements.txt,target=/run/dockyard/requirements.txt \
    pip install -c /opt/constraints.txt -r /run/dockyard/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    pip install -c /opt/constraints.txt ninja==1.13.0 packaging==25.0 \
    && pip install --no-build-isolation -c /opt/constraints.txt flash-attn==2.8.3

FROM base AS runtime
COPY --from=builder --chown=1000:1000 /opt/venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HF_HOME=/home/dockyard/.cache/huggingface
USER 1000:1000
WORKDIR /home/dockyard
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python3"]
