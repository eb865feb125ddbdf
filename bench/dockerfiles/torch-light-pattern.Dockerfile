# transformers' docker/torch-light.dockerfile, step by step as ../../../shared/reference/hf-images.md §1.4
# describes it, built on this machine. Adapted, and only this:
#  - base: python:3.10-slim cannot be pulled; the local Debian bookworm base with Python 3.11 stands in,
#    with a virtualenv in the place of python:slim's system pip (same role: uv installs into it). The
#    local base is a plain debootstrap, and python:slim is built on debian:bookworm-slim, whose rootfs
#    (made by debuerreotype: scripts/debuerreotype-minimizing-config and debuerreotype-slimify with
#    scripts/.slimify-excludes) configures apt and dpkg as the first RUN below does: apt deletes the
#    downloaded .deb files after each install and keeps its lists gzipped without translations, and dpkg
#    leaves out /usr/share/{doc,groff,info,linda,lintian/overrides,locale,man} (copyright files and a few locale tables stay).
#    Without it the original's apt step would keep 226 MB of .deb files and its documentation, which the
#    original on python:slim does not (bench/size.py measured 3,669 MB that way, against 3,1xx MB);
#  - torch source: download.pytorch.org is not reachable; torch 2.13.0+cpu comes from the local wheelhouse
#    (the preset's torch, not the <=2.11 cap). Its CPU torchvision, torchaudio and torchcodec cannot be
#    fetched here, so this image has none, like the dockyard image it is compared with (the `vision` extra,
#    which pulls torchvision, is left out of both);
#  - the proxy's CA bundle as a build secret for pip/uv;
#  - what needs GitHub: transformers at ${REF} becomes the preset's release from PyPI, the ydshieh pytest
#    fork becomes pytest, transformers-ci@main and the Hub test data (fetch_hub_objects_for_ci.py) are not
#    fetched (the preset does not fetch them either).
# Everything else is as the original: one stage, root, apt without cleanup, uv --no-cache-dir, no bytecode
# compiled, `--no-deps timm accelerate`, transformers uninstalled at the end.
ARG BASE_IMAGE=dockyard/bookworm-python:3.11
FROM ${BASE_IMAGE}
ARG REF=main
ARG TRANSFORMERS_VERSION
USER root
# Base adaptation (see above): what debian:bookworm-slim's own configuration does, written out
RUN printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' > /etc/apt/apt.conf.d/docker-clean \
    && echo 'Acquire::GzipIndexes "true";' > /etc/apt/apt.conf.d/docker-gzip-indexes \
    && echo 'Acquire::Languages "none";' > /etc/apt/apt.conf.d/docker-no-languages \
    && printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/linda/*' \
        'path-exclude /usr/share/lintian/overrides/*' 'path-exclude /usr/share/locale/*' \
        'path-exclude /usr/share/man/*' 'path-include /usr/share/doc/kde/HTML/C/*' \
        'path-include /usr/share/gnome/help/*/C/*' 'path-include /usr/share/locale/all_languages' \
        'path-include /usr/share/locale/currency/*' 'path-include /usr/share/locale/l10n/*' \
        'path-include /usr/share/locale/languages' 'path-include /usr/share/locale/locale.alias' \
        'path-include /usr/share/omf/*/*-C.emf' > /etc/dpkg/dpkg.cfg.d/docker
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1-dev espeak-ng time git g++ cmake pkg-config openssh-client git-lfs ffmpeg curl
RUN python3 -m venv /usr/local/py
ENV VIRTUAL_ENV=/usr/local/py PATH=/usr/local/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca pip --no-cache-dir install uv && SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir -U pip setuptools
RUN --mount=type=secret,id=ca --mount=type=bind,source=wheels,target=/wheels SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir --find-links /wheels 'torch==2.13.0+cpu'
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir --no-deps timm accelerate
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir librosa "transformers[sklearn,sentencepiece,testing,tiktoken,num2words,video]==${TRANSFORMERS_VERSION}"
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir pytest pytest-random-order
RUN uv pip uninstall transformers
