#!/usr/bin/env bash
# The README's first command, timed from as fresh a state as this machine can be put back to.
#
#   bash bench/first_run.sh --remove-engine     (root, Debian; takes about 4 minutes)
#
# DESTRUCTIVE, which is why it asks for --remove-engine: it first removes everything the first command
# creates or installs, then runs `bash scripts/setup.sh && .venv/bin/dockyard build cpu-inference` in a
# fresh clone of this checkout's HEAD and times it:
#   - every container, image and build cache of the docker engine, and podman's copy of the local base;
#   - the site config (~/.config/dockyard), pip's cache, dockyard's logs;
#   - dockerd (stopped) and the Debian packages setup.sh installs for the first command: docker.io,
#     containerd, tini and debootstrap, with apt's downloaded archives.
# What stays, and so what a really fresh machine adds: docker.io's other dependencies (runc, iptables,
# apparmor, ...), which podman and the rest of the machine share; PIP_FIND_LINKS's wheelhouse, which a
# machine of this kind has from the start (shared ENVIRONMENT.md). The script prints that list.
#
# Prints each part's time from the output's own timestamps and the total against the goal of 240 s,
# and writes bench/results/first-run.txt. Afterwards the engine is up with the base and cpu-inference,
# as after the README's first command; `bash scripts/setup.sh --tests` restores the rest.
set -uo pipefail
[ "${1:-}" = --remove-engine ] || { echo "usage: bash bench/first_run.sh --remove-engine (read its header first)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "first_run.sh: needs root (it removes and reinstalls Debian packages)" >&2; exit 2; }
cd "$(dirname "$0")/.."
checkout=$PWD
results=$checkout/bench/results
work=$(mktemp -d /tmp/dockyard-first-run-XXXXXX)
mkdir -p "$results"
GOAL=240

git clone -q "$checkout" "$work/dockyard"
if docker info >/dev/null 2>&1; then
    ids=$(docker ps -aq); [ -z "$ids" ] || docker rm -f $ids >/dev/null
    ids=$(docker images -q); [ -z "$ids" ] || docker image rm -f $ids >/dev/null 2>&1
    docker builder prune --all --force >/dev/null
fi
command -v podman >/dev/null && podman image rm -f dockyard/bookworm-python:3.11 >/dev/null 2>&1
rm -rf "${XDG_CONFIG_HOME:-$HOME/.config}/dockyard" "$HOME/.cache/pip" "$HOME/.cache/dockyard"
pkill -x dockerd; for _ in $(seq 60); do pgrep -x dockerd >/dev/null || break; sleep 1; done
pkill -x containerd
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq docker.io containerd tini debootstrap >/dev/null 2>&1
apt-get clean
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null

cd "$work/dockyard"
start=$(date +%s.%N)
( bash scripts/setup.sh && .venv/bin/dockyard build cpu-inference ) 2>&1 \
    | while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done > "$work/run.log"
rc=${PIPESTATUS[0]}
end=$(date +%s.%N)

python3 - "$start" "$end" "$rc" "$work/run.log" "$GOAL" > "$results/first-run.txt" <<'EOF'
import sys
start, end, rc, log, goal = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
# the parts, each starting at the first line that contains its marker
MARKS = [("venv (pip install -e .)", "[setup] virtualenv"), ("apt-get install", "[setup] apt-get install"),
         ("dockerd and the registry probe", "[setup] starting dockerd"),
         ("local base: debootstrap, docker import", "debootstrap bookworm"),
         ("site config", "[setup] download.pytorch.org"), ("build, SBOM and verify", "cpu-inference: docker")]
seen = []
for line in open(log, encoding="utf-8", errors="replace"):
    stamp, _, text = line.partition(" ")
    for name, mark in MARKS:
        if mark in text and name not in [s[0] for s in seen]:
            seen.append((name, float(stamp)))
print("the README's first command, from a machine with the first command's engine, packages, images, caches")
print("and config removed (bench/first_run.sh)\n")
for (name, at), nxt in zip(seen, [s[1] for s in seen[1:]] + [end]):
    print(f"  {name:42} {nxt - at:7.1f} s")
total = end - start
print(f"\n  {'total':42} {total:7.1f} s   exit {rc}")
print(f"  {'against the goal of ' + str(int(goal)) + ' s':42} {total / goal:7.3f}   {'met' if rc == 0 and total < goal else 'NOT MET'}")
EOF
{
    installed=$(grep -E '^Install:' /var/log/apt/history.log | tail -1)
    echo
    echo "apt installed here: ${installed#Install: }"
    kept=$(apt-cache depends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances docker.io \
        debootstrap 2>/dev/null | awk '/Depends:|Recommends:/ {print $2}' | grep -v '^<' | sort -u \
        | xargs dpkg-query -W -f '${db:Status-Status} ${Package}\n' 2>/dev/null \
        | awk '$1 == "installed" {print $2}' | while read -r p; do
            case "$installed" in *" $p:"*) ;; *) printf '%s ' "$p" ;; esac; done)
    echo "already installed, so not timed (a fresh machine installs them, with their own dependencies): $kept"
    echo "log: $work/run.log"
} >> "$results/first-run.txt"
cat "$results/first-run.txt"
exit "$rc"
