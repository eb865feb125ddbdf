# syntax=docker/dockerfile:1
ARG ROCM=6.2.4
FROM rocm/dev-ubuntu-22.04:${ROCM} AS rocm
ARG MAX_JOBS=4
ENV PYTORCH_ROCM_ARCH="gfx90a;gfx942"
RUN <<EOT bash
set -euo pipefail
pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/rocm6.2.4
pip install --no-cache-dir pynvml==12.0.0
EOT
COPY <<EOF /etc/profile.d/rocm.sh
export HSA_OVERRIDE_GFX_VERSION=11.0.0
EOF
USER 1000
