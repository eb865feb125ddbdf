# The floor of an image (bench/floor.py): the same base with the same packages installed plainly.
# requirements.txt: every Python distribution of the image (name==version); debian.txt: every Debian
# package it holds beyond the base (by name). One stage, root, no bytecode (--no-compile), no cache
# in a layer (pip's downloads go to a cache mount; apt's lists are removed in the same step), nothing
# stripped or removed. torch's CPU build comes from the wheelhouse bound at /wheels, as in the images.
ARG BASE_IMAGE=dockyard/bookworm-python:3.11
FROM ${BASE_IMAGE}
USER root
COPY debian.txt /tmp/debian.txt
RUN if [ -s /tmp/debian.txt ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/debian.txt apt-get install -y --no-install-recommends \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && rm /tmp/debian.txt
RUN python3 -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=cache,target=/root/.cache/pip,id=pip-cache,sharing=locked --mount=type=secret,id=ca \
    --mount=type=bind,source=wheels,target=/wheels --mount=type=bind,source=requirements.txt,target=/tmp/req.txt \
    PIP_CERT=/run/secrets/ca pip install --no-compile --no-deps --find-links /wheels -r /tmp/req.txt
