#!/usr/bin/env bash
# A real container registry on this machine for the engine tests of `dockyard push` and
# `deploy --registry`: Debian's docker-registry (CNCF Distribution 2.8), listening on 127.0.0.1 only,
# storing its blobs under DIR. Docker and podman trust a loopback registry without TLS.
#
#   bash scripts/registry.sh start DIR    install it if missing (apt, root), start it, print HOST:PORT
#   bash scripts/registry.sh stop DIR     stop the registry started with DIR and remove DIR
#
# scripts/test.sh starts one for the whole run and exports DOCKYARD_TEST_REGISTRY=HOST:PORT; without
# that variable the engine tests start their own through this script.
set -euo pipefail
log() { printf '[registry] %s\n' "$*" >&2; }
die() { printf '[registry] error: %s\n' "$*" >&2; exit 1; }

command_=${1:-}
dir=${2:-}
[ -n "$command_" ] && [ -n "$dir" ] || die "usage: scripts/registry.sh start|stop DIR"

case "$command_" in
start)
    if ! command -v docker-registry >/dev/null 2>&1; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            die "docker-registry is missing: install Debian's docker-registry package (CNCF Distribution) and rerun"
        fi
        log "apt-get install docker-registry"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
    fi
    mkdir -p "$dir/storage"
    for _ in 1 2 3 4 5; do
        # a free loopback port (another run may take it before the registry binds: then try again)
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat > "$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CONFIG
        nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
        echo $! > "$dir/pid"
        for _ in $(seq 1 50); do
            if curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
                echo "127.0.0.1:$port"
                exit 0
            fi
            kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
            sleep 0.2
        done
        kill "$(cat "$dir/pid")" 2>/dev/null || true
    done
    die "the registry did not start; see $dir/registry.log"
    ;;
stop)
    if [ -f "$dir/pid" ]; then
        kill "$(cat "$dir/pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    die "unknown command $command_ (start or stop)"
    ;;
esac
