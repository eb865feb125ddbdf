# The smallest careful multi-stage image written by hand for exactly cpu-inference's packages (torch 2.13.0
# CPU and transformers 5.24.0 with their dependencies) on the same local base: what dockyard's generated
# image is measured against. No bytecode at all (the smallest choice; its cold import is the slowest),
# pip removed, torch's headers, CMake files, C++ tests and protoc removed, tests folders removed,
# non-root user. No init and no probe: a hand-written image usually has neither.
ARG BASE_IMAGE=dockyard/bookworm-python:3.11
FROM ${BASE_IMAGE} AS base
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 PYTHONUNBUFFERED=1

FROM base AS builder
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=cache,target=/root/.cache/pip,id=bench-hand-pip --mount=type=secret,id=ca \
    --mount=type=bind,source=wheels,target=/wheels \
    PIP_CERT=/run/secrets/ca pip install --no-compile --find-links /wheels 'torch==2.13.0+cpu' 'transformers==5.24.0'
RUN set -e; site=/opt/venv/lib/python3.11/site-packages; \
    pip uninstall -y pip; \
    rm -rf "$site/torch/include" "$site/torch/share/cmake" "$site/torch/test" "$site"/torch/bin/test_* \
           "$site"/torch/bin/*Test "$site"/torch/bin/protoc* "$site/torch/lib/libbackend_with_compiler.so" \
           "$site/torch/lib/libaoti_custom_ops.so"; \
    find /opt/venv -depth \( -name __pycache__ -o -name tests -o -name '*.pyi' -o -name '*.a' \) -exec rm -rf {} +

FROM base
RUN useradd --uid 1000 --create-home --shell /bin/sh app
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1
USER 1000:1000
WORKDIR /home/app
CMD ["python"]
