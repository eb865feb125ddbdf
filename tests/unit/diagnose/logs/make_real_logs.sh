#!/usr/bin/env bash
# Reproduce the fixture logs that README.md marks "produced here", on a dockyard dev machine:
# docker.io 20.10 (dockerd running) + podman 4.3, no registry, PyPI only through a TLS-intercepting proxy
# whose CA bundle is $PIP_CERT, and the local base image dockyard/bookworm-python:3.11.
# Raw logs land in $OUT (default /tmp/dockyard-diag-logs), trimmed copies in $OUT/trimmed (trim_logs.py:
# BuildKit step digests and download progress bars cut, the resolver address replaced; nothing else).
# Copy the trimmed logs you want over the fixtures in real/.
# Every build here is meant to fail, but the three success_* ones (what `dockyard explain` says of a build
# that worked). The images and podman copies it creates are removed at the end.
set -u
OUT=${OUT:-/tmp/dockyard-diag-logs}
BASE=dockyard/bookworm-python:3.11
DOCKER=${DOCKER:-/usr/bin/docker}               # the docker.io 20.10 client: BuildKit with DOCKER_BUILDKIT=1
NEW_DOCKER=${NEW_DOCKER:-/usr/local/bin/docker} # a 28.x client without the buildx plugin
TAG=dockyard-diagtest
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case_dir() { mkdir -p "$work/$1"; printf '%s\n' "$2" >"$work/$1/Dockerfile"; echo "$work/$1"; }
bk() {  # BuildKit through the 20.10 client: name, Dockerfile text, extra build args...
  local name=$1 text=$2; shift 2
  local dir; dir=$(case_dir "$name" "$text")
  DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain --no-cache -t "$TAG:$name" "$@" "$dir" >"$OUT/$name.log" 2>&1
  echo "$name: exit $?"
}
pm() {  # podman (Buildah): name, Dockerfile text, extra build args...
  local name=$1 text=$2; shift 2
  local dir; dir=$(case_dir "$name" "$text")
  podman build --no-cache --layers=false -t "$TAG:$name" "$@" "$dir" >"$OUT/$name.log" 2>&1
  echo "$name: exit $?"
}
VENV='RUN python3 -m venv /opt/venv'
SECRET=(--secret "id=ca,src=$PIP_CERT")
PIPCA='RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca /opt/venv/bin/pip install --no-cache-dir'

bk tls_cert "FROM $BASE
$VENV
RUN /opt/venv/bin/pip install --no-cache-dir requests"
bk pep668 "FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip
RUN pip install transformers"
bk apt_missing "FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends git libcudnn9-dev-cuda-12"
bk pull_missing "FROM nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04
RUN nvcc --version"
bk pip_conflict "FROM $BASE
$VENV
$PIPCA transformers==4.40.0 tokenizers==0.21.0" "${SECRET[@]}"
bk no_wheel "FROM $BASE
$VENV
$PIPCA torch==1.12.1 transformers" "${SECRET[@]}"
bk secret_missing "FROM $BASE
$VENV
$PIPCA requests"
bk no_space "FROM $BASE
RUN dd if=/dev/zero of=/dev/shm/model.safetensors bs=1M count=200"
bk syntax_frontend "# syntax=docker/dockerfile:1.7
FROM $BASE
RUN echo hi"
bk heredoc "FROM $BASE
RUN <<EOT
set -e
echo hi
EOT"
bk unknown_buildkit "FROM $BASE
$VENV
RUN echo 'checking the image' && /opt/venv/bin/python -c 'import sys; print(\"probe failed\"); sys.exit(3)'"
bk nvcc_notfound "FROM $BASE
RUN nvcc --version"

# --build-context needs buildx: the 20.10 client rejects the flag
dir=$(case_dir build_context "FROM $BASE")
DOCKER_BUILDKIT=1 "$DOCKER" build --build-context extra="$dir" "$dir" >"$OUT/build_context.log" 2>&1
echo "build_context: exit $?"
# the 28.x client without buildx: with DOCKER_BUILDKIT=1 it refuses, without it falls back to the legacy builder
dir=$(case_dir buildx_missing "FROM $BASE
RUN --mount=type=cache,target=/root/.cache echo hi")
DOCKER_BUILDKIT=1 "$NEW_DOCKER" build "$dir" >"$OUT/buildx_missing.log" 2>&1; echo "buildx_missing: exit $?"
env -u DOCKER_BUILDKIT "$NEW_DOCKER" build "$dir" >"$OUT/legacy_mount.log" 2>&1; echo "legacy_mount: exit $?"

# a compiler killed by the OOM killer: the legacy builder accepts --memory, BuildKit does not
dir=$(case_dir gpp "FROM $BASE
LABEL dockyard.diagtest=1
RUN apt-get update && apt-get install -y --no-install-recommends g++ python3-dev && rm -rf /var/lib/apt/lists/*")
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$TAG:gpp" "$dir" >/dev/null 2>&1
dir=$(case_dir oom_legacy "FROM $TAG:gpp
RUN python3 -m venv /opt/venv
COPY . /src
WORKDIR /src
RUN MAX_JOBS=2 /opt/venv/bin/python setup.py build_ext --inplace")
mkdir -p "$dir/csrc"
printf '%s\n' 'from setuptools import Extension, setup' '' \
  'setup(name="fused-ops", version="0.1.0",' \
  '      ext_modules=[Extension("fused_ops", ["csrc/fused_ops.cpp"], extra_compile_args=["-O3", "-std=c++17"])])' \
  >"$dir/setup.py"
python3 - "$dir/csrc/fused_ops.cpp" <<'PY'
import sys
lines = ["#include <map>", "#include <string>", "#include <vector>",
         "static std::map<std::string, std::vector<int>> build() {",
         "  std::map<std::string, std::vector<int>> m;"]
lines += [f'  m["k{i}"] = std::vector<int>{{{i}, {i + 1}, {i + 2}}};' for i in range(60000)]
lines += ["  return m;", "}", 'extern "C" int fused_ops_size() { return (int)build().size(); }']
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
DOCKER_BUILDKIT=0 "$DOCKER" build --force-rm --memory=256m --memory-swap=256m -t "$TAG:oom" "$dir" >"$OUT/oom_legacy.log" 2>&1
echo "oom_legacy: exit $?"

loaded=0
if ! podman image exists "$BASE"; then "$DOCKER" save "$BASE" | podman load -q >/dev/null && loaded=1; fi
pm podman_pull "FROM docker.io/library/python:3.12-slim
RUN pip install transformers"
pm podman_shortname "FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04
RUN nvidia-smi"
pm podman_pep668 "FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip
RUN pip install transformers"
pm podman_secret_missing "FROM $BASE
$VENV
$PIPCA requests"
pm podman_unknown "FROM $BASE
RUN echo 'warming up' && sh -c 'echo step failed >&2; exit 7'"

# builds that succeed: BuildKit, the legacy builder, podman
bk success_buildkit "FROM $BASE
RUN echo built"
dir=$(case_dir success_legacy "FROM $BASE
RUN echo built")
DOCKER_BUILDKIT=0 "$DOCKER" build --no-cache -t "$TAG:success_legacy" "$dir" >"$OUT/success_legacy.log" 2>&1
echo "success_legacy: exit $?"
pm success_podman "FROM $BASE
RUN echo built"

# clean up only what this script made (the label marks the g++ image and every layer built on it)
if [ "$loaded" = 1 ]; then podman rmi "$BASE" >/dev/null 2>&1 || true; fi
"$DOCKER" rmi $("$DOCKER" images -q "$TAG") >/dev/null 2>&1 || true
for id in $("$DOCKER" images -a -q --filter label=dockyard.diagtest=1); do "$DOCKER" rmi "$id" >/dev/null 2>&1; done
python3 "$(dirname "$0")/trim_logs.py" "$OUT" "$OUT/trimmed"
