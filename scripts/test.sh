#!/usr/bin/env bash
# dockyard's test command (the README's second command; CI runs it through .ci/run):
# set the machine up (venv, engines, local base, site config), then lint, type-check and run every
# test, including the engine tests that build and verify real images (required: a missing engine
# fails the run instead of skipping them). Extra arguments go to pytest, e.g. `-m "not engine"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] ruff" >&2
.venv/bin/ruff check src tests bench scripts
echo "[test] mypy" >&2
.venv/bin/mypy
echo "[test] pytest" >&2
DOCKYARD_ENGINE_TESTS=require .venv/bin/pytest -q "$@"
