# The same server as dockyard's serve image (transformers' own `transformers serve`, the same tiny model,
# the same package versions through constraints.txt, which bench/serve.py writes from dockyard's image),
# installed the way transformers' docker/ images install things (../../../shared/reference/hf-images.md):
# one stage, root, apt lists and pip/uv caches left in the layers (`pip install uv` without
# --no-cache-dir, `uv pip install` without --no-cache), no bytecode compiled at build time (uv's default),
# no health check, no init. Adapted to this machine only as the other references are: the local Debian base
# with a virtualenv in place of python:slim's system pip, torch's CPU wheel from the local wheelhouse, the
# proxy's CA bundle as a build secret.
ARG BASE_IMAGE=dockyard/bookworm-python:3.11
FROM ${BASE_IMAGE}
USER root
RUN apt-get update && apt-get install -y --no-install-recommends git curl
RUN python3 -m venv /usr/local/py
ENV VIRTUAL_ENV=/usr/local/py PATH=/usr/local/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca pip install uv && SSL_CERT_FILE=/run/secrets/ca uv pip install -U pip setuptools
RUN --mount=type=secret,id=ca --mount=type=bind,source=wheels,target=/wheels SSL_CERT_FILE=/run/secrets/ca uv pip install --find-links /wheels 'torch==2.13.0+cpu'
COPY constraints.txt /tmp/constraints.txt
# transformers' release is the dockyard image's, pinned by constraints.txt like every other package
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install -c /tmp/constraints.txt "transformers[serving]"
COPY model /opt/model
EXPOSE 8000
CMD ["transformers", "serve", "/opt/model", "--host", "0.0.0.0", "--port", "8000", "--device", "cpu"]
