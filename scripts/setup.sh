#!/usr/bin/env bash
# dockyard: set this machine up for real builds, idempotently.
#
#   bash scripts/setup.sh            what `dockyard build` needs, and nothing more (the README's first command):
#     1. a virtualenv (.venv) with dockyard
#     2. docker (dockerd + a client that builds with BuildKit) and debootstrap, installed with apt when
#        missing (root on Debian/Ubuntu), and dockerd started when it does not answer
#     3. site settings in ~/.config/dockyard/config.toml, decided by probing the network:
#        - no container registry reachable: a Debian base with Python made by `dockyard base bootstrap`
#          in docker stands in for python:3.11-slim-bookworm and for the GPU bases
#        - download.pytorch.org not reachable: its wheel indexes map to PyPI; $PIP_FIND_LINKS (a folder
#          of local wheels, e.g. torch's CPU build) becomes the wheelhouse
#        - a CA bundle in $PIP_CERT (a TLS-intercepting proxy): handed to builds as a secret
#   bash scripts/setup.sh --tests    the same, plus what the tests need (scripts/test.sh runs this):
#     the development tools in .venv (pytest, ruff, mypy, ...), podman with the local base (copied from
#     docker's store, not bootstrapped again), docker-compose, and Debian's docker-registry (the local
#     registry scripts/registry.sh starts for the push tests). Test-only services are started by their
#     own script, called from scripts/test.sh.
#
# Podman outside the tests: `dockyard build --backend podman` copies the local base from docker the
# first time it needs it (seconds; `dockyard base bootstrap ... --backend podman` does the same).
# DOCKYARD_SETUP_SKIP_ENGINE=1: only the virtualenv, with the development tools (to work on dockyard in
# a second checkout on a machine already set up).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

tests=0
for arg in "$@"; do
    case "$arg" in
        --tests) tests=1 ;;
        *) die "unknown option $arg (scripts/setup.sh [--tests])" ;;
    esac
done

[ "${DOCKYARD_SETUP_SKIP_ENGINE:-0}" = 1 ] && tests=1
BASE_IMAGE=dockyard/bookworm-python:3.11
CONFIG="${DOCKYARD_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/dockyard/config.toml}"

# 1. virtualenv ---------------------------------------------------------------------------------------
# dockyard alone for a build (three small dependencies, seconds); its development tools only for the tests.
if [ "$tests" = 1 ]; then target=".[dev]" marker=.venv/.installed-dev; else target="." marker=.venv/.installed; fi
if [ ! -x .venv/bin/dockyard ] || [ ! -f "$marker" ] || [ pyproject.toml -nt "$marker" ]; then
    log "virtualenv .venv: pip install -e $target"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -e "$target"
    touch "$marker" .venv/.installed
fi
[ "${DOCKYARD_SETUP_SKIP_ENGINE:-0}" = 1 ] && exit 0

# 2. engines ------------------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ "$tests" = 1 ]; then
    # podman: the second backend the engine tests build with; docker-compose (1.29, Debian's) runs the
    # compose files `dockyard deploy --to compose` writes; docker-registry (CNCF Distribution 2.8,
    # Debian's) is the loopback registry of the push and pull-by-digest tests (scripts/registry.sh).
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        die "missing ${missing[*]}: install them (a container engine: docker with buildx, or podman), then rerun"
    fi
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The distribution's docker client builds with BuildKit through DOCKER_BUILDKIT=1; a newer client
# without buildx may sit first on PATH, so talk to the daemon through every candidate.
docker_ok() { /usr/bin/docker info >/dev/null 2>&1 || docker info >/dev/null 2>&1; }
if ! docker_ok; then
    [ "$(id -u)" = 0 ] || die "the docker daemon does not answer; start it (systemctl start docker) and rerun"
    log "starting dockerd"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker_ok && break; sleep 1; done
    docker_ok || die "dockerd did not come up; see /var/log/dockerd.log"
fi

# 3. site settings ------------------------------------------------------------------------------------
reachable() { curl -fsS -m 10 -o /dev/null "$1" >/dev/null 2>&1; }
base_map=()
index_map=()
# The registry answers 401 to an anonymous request: any HTTP answer means it is reachable.
if ! curl -sS -m 10 -o /dev/null https://registry-1.docker.io/v2/ 2>/dev/null; then
    log "no container registry reachable: local base $BASE_IMAGE"
    backends=(docker)
    [ "$tests" = 1 ] && backends+=(podman)
    for backend in "${backends[@]}"; do
        client=/usr/bin/docker
        [ "$backend" = podman ] && client=podman
        # podman's copy comes from docker's store (save | load, seconds) rather than a second debootstrap.
        "$client" image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
            || .venv/bin/dockyard base bootstrap "$BASE_IMAGE" --with-python --backend "$backend"
    done
    base_map+=("\"python:3.11-slim-bookworm\" = \"$BASE_IMAGE\"")
    base_map+=("\"nvidia/cuda:*\" = \"$BASE_IMAGE\"")
fi
if ! reachable https://download.pytorch.org/whl/cpu/; then
    log "download.pytorch.org not reachable: its indexes map to PyPI"
    index_map+=("\"https://download.pytorch.org/whl/*\" = \"https://pypi.org/simple\"")
fi

mkdir -p "$(dirname "$CONFIG")"
{
    echo "# Written by dockyard's scripts/setup.sh for this machine; rerun it to refresh."
    echo "[build]"
    [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "${PIP_FIND_LINKS%% *}" ] && echo "wheelhouse = \"${PIP_FIND_LINKS%% *}\""
    [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ] && echo "ca-cert = \"$PIP_CERT\""
    echo
    echo "[base-map]"
    for rule in "${base_map[@]}"; do echo "$rule"; done
    echo
    echo "[index-map]"
    for rule in "${index_map[@]}"; do echo "$rule"; done
} > "$CONFIG"
log "site config $CONFIG:"
sed 's/^/[setup]   /' "$CONFIG" >&2
if [ "$tests" = 1 ]; then log "ready for the tests: bash scripts/test.sh"; else log "ready: .venv/bin/dockyard build cpu-inference"; fi
