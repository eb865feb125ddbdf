#!/usr/bin/env bash
# dockyard's test command (the README's second command; CI runs it through .ci/run):
# set the machine up for the tests (venv with the development tools, docker and podman with the local
# base, docker-compose, site config), then lint, type-check and run every test, including the engine
# tests that build and verify real images (required: a missing engine fails the run instead of skipping
# them). Extra arguments go to pytest, e.g. `-m "not engine"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# Test-only services that need more than a package (e.g. a local container registry) get a script of
# their own under scripts/, called here after the common setup.
echo "[test] ruff" >&2
.venv/bin/ruff check src tests bench scripts
echo "[test] mypy" >&2
.venv/bin/mypy
# A full run builds dozens of images and BuildKit keeps their layers and cache mounts (tens of GB a
# run). Below 60 GB free on the engine's disk, drop the build cache of earlier runs first: builds get
# slower, nothing else is lost.
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
free_gb=$(df -P --block-size=1G "$root" 2>/dev/null | awk 'NR == 2 {print $4}')
if [ "${free_gb:-0}" -lt 60 ]; then
    echo "[test] ${free_gb:-?} GB free under $root: pruning docker's build cache" >&2
    docker builder prune --all --force >/dev/null || true
fi
# A real registry on loopback for the push and pull-by-digest tests, one for the whole run.
registry_dir=$(mktemp -d)
DOCKYARD_TEST_REGISTRY=$(bash scripts/registry.sh start "$registry_dir")
export DOCKYARD_TEST_REGISTRY
trap 'bash scripts/registry.sh stop "$registry_dir"' EXIT
echo "[test] registry $DOCKYARD_TEST_REGISTRY" >&2
echo "[test] pytest" >&2
DOCKYARD_ENGINE_TESTS=require .venv/bin/pytest -q --durations=25 "$@"
