# transformers' docker/examples-torch.dockerfile (at 01ae98ae, ../../../shared/reference/hf-images.md §1.6; its newest
# version adds git-lfs, ffmpeg and curl to the apt line and torchcodec, which this follows too),
# step by step, built on this machine. Adapted, and only as torch-light-pattern.Dockerfile says: the local
# Debian base made to behave like python:slim's debian:bookworm-slim (first RUN), a virtualenv in the place
# of python:slim's system pip, torch 2.13.0+cpu from the wheelhouse instead of download.pytorch.org (no CPU
# torchaudio, torchvision or torchcodec here, so none, and no `vision` extra, which pulls torchvision:
# bench/dockerfiles/examples-torch-here.toml leaves out the same), the proxy's CA as a build secret, and
# transformers at ${REF} from GitHub replaced by the preset's release from PyPI. As the original: one stage,
# root, `git` listed twice, apt lists removed in a last layer, no bytecode, transformers uninstalled at the end.
ARG BASE_IMAGE=dockyard/bookworm-python:3.11
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1
ARG REF=main
ARG TRANSFORMERS_VERSION
USER root
# Base adaptation: what debian:bookworm-slim's own configuration does (torch-light-pattern.Dockerfile)
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
RUN apt-get update &&  apt-get install -y --no-install-recommends libsndfile1-dev espeak-ng time git g++ cmake pkg-config openssh-client git git-lfs ffmpeg curl
RUN python3 -m venv /usr/local/py
ENV VIRTUAL_ENV=/usr/local/py PATH=/usr/local/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca pip --no-cache-dir install uv && SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir -U pip setuptools
RUN --mount=type=secret,id=ca --mount=type=bind,source=wheels,target=/wheels SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir --find-links /wheels 'torch==2.13.0+cpu'
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install --no-deps timm accelerate
RUN --mount=type=secret,id=ca SSL_CERT_FILE=/run/secrets/ca uv pip install --no-cache-dir librosa "transformers[sklearn,sentencepiece,testing]==${TRANSFORMERS_VERSION}" seqeval albumentations jiwer
RUN uv pip uninstall transformers
RUN apt-get clean && rm -rf /var/lib/apt/lists/*
