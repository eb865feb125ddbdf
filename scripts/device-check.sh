#!/usr/bin/env bash
# dockyard device check: everything dockyard can learn about this machine's accelerator, in one run of
# under 5 minutes, written to one folder that can be committed as test fixtures (tests/fixtures/device-check/).
#
#   scripts/device-check.sh [OUT_DIR]          default OUT_DIR: ./device-check-out
#   PYTHON=/path/to/python scripts/device-check.sh ...   the Python with torch (default: python3)
#
# Needs: bash, coreutils `timeout`, a Python 3.10+ (with torch, for the GPU probes). No network, no
# container engine, no installed dockyard: it runs from a checkout of this repository.
#   1. raw outputs of nvidia-smi (the two commands doctor runs, and -q) and rocm-smi / rocminfo
#   2. the host probes: src/dockyard/verify/probe.py --host (standard library and torch only): devices,
#      compiled archs against each device's capability, bf16, NCCL/RCCL, a matmul and the tiny model on
#      the device (without transformers the tiny model is skipped), and the raw device facts
#   3. doctor's JSON report through `python -m dockyard.diagnose` (no rich needed). doctor needs
#      `packaging` (and tomli on Python 3.10); when that Python lacks them, the copies pip vendors
#      (pip/_vendor/packaging, pip/_vendor/tomli) are put on the path; without those, doctor is skipped
#      and the summary says why (the raw outputs of step 1 still let tests run doctor on them).
#   4. summary.txt: what was found ("no GPU" when no accelerator answers), the NVIDIA driver against
#      torch's CUDA (where doctor could run), and each step's exit status.
# Each step has a timeout (5 x 20 s for the vendor tools, 150 s for the probes, 30 s for doctor): 290 s
# at worst, about 30 s on a CPU machine. Exit 0 when it ran to the end (whatever it found), 2 for a bad
# argument.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-device-check-out}"
PY="${PYTHON:-python3}"
if [ $# -gt 1 ] || [ "${OUT#-}" != "$OUT" ]; then
    echo "usage: [PYTHON=python] scripts/device-check.sh [OUT_DIR]" >&2
    exit 2
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "device-check: no Python at '$PY': set PYTHON=/path/to/python" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
OUT="$(cd "$OUT" && pwd)"
SHIM="$(mktemp -d)"
trap 'rm -rf "$SHIM"' EXIT
export PYTHONPATH="$SHIM:$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error PYTHONDONTWRITEBYTECODE=1
: > "$OUT/steps.txt"
say() { printf '[device-check] %s\n' "$*" >&2; }

# run NAME SECONDS OUTFILE CMD...: stdout to OUTFILE, stderr to OUTFILE.stderr (removed when empty)
run() {
    local name="$1" seconds="$2" file="$3"
    shift 3
    local start=$SECONDS code
    timeout "$seconds" "$@" > "$OUT/$file" 2> "$OUT/$file.stderr"
    code=$?
    [ -s "$OUT/$file.stderr" ] || rm -f "$OUT/$file.stderr"
    [ "$code" = 124 ] && say "$name: timed out after ${seconds}s"
    printf '%s\texit %s\t%ss\t%s\n' "$name" "$code" "$((SECONDS - start))" "$file" >> "$OUT/steps.txt"
    return 0
}

# 1. raw tool outputs ----------------------------------------------------------------------------------
say "raw outputs of the vendor tools"
if command -v nvidia-smi >/dev/null 2>&1; then
    run "nvidia-smi query" 20 nvidia_smi_query.csv nvidia-smi --query-gpu=driver_version,compute_cap,name --format=csv,noheader
    run "nvidia-smi" 20 nvidia_smi.txt nvidia-smi
    run "nvidia-smi -q" 20 nvidia_smi_q.txt nvidia-smi -q
else
    printf 'nvidia-smi\tnot installed\n' >> "$OUT/steps.txt"
fi
ROCMINFO="$(command -v rocminfo || { [ -x /opt/rocm/bin/rocminfo ] && echo /opt/rocm/bin/rocminfo; })"
if [ -n "$ROCMINFO" ]; then
    run "rocminfo" 20 rocminfo.txt "$ROCMINFO"
else
    printf 'rocminfo\tnot installed\n' >> "$OUT/steps.txt"
fi
if command -v rocm-smi >/dev/null 2>&1; then
    run "rocm-smi" 20 rocm_smi.txt rocm-smi --showproductname --showdriverversion --showmeminfo vram
else
    printf 'rocm-smi\tnot installed\n' >> "$OUT/steps.txt"
fi

# 2. host probes (standard library + torch) -------------------------------------------------------------
say "host probes with $PY"
run "python" 10 python.txt "$PY" -c 'import platform, sys; print(sys.version.split()[0], sys.executable, platform.machine())'
run "host probe" 150 host_probe.json "$PY" "$REPO/src/dockyard/verify/probe.py" --host

# 3. doctor, borrowing pip's vendored packaging/tomli when the Python lacks them --------------------------
for module in packaging tomli; do
    [ "$module" = tomli ] && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' && continue
    if ! "$PY" -c "import $module" >/dev/null 2>&1; then
        vendored="$("$PY" -c "import os, pip._vendor.$module as m; print(os.path.dirname(m.__file__))" 2>/dev/null)"
        if [ -n "$vendored" ]; then
            ln -s "$vendored" "$SHIM/$module"
            printf 'doctor\tborrowed %s from %s\n' "$module" "$vendored" >> "$OUT/steps.txt"
        fi
    fi
done
if "$PY" -c 'import packaging.version' >/dev/null 2>&1; then
    say "doctor (offline)"
    run "doctor" 30 doctor.json "$PY" -m dockyard.diagnose --offline
else
    printf 'doctor\tskipped: %s has no packaging module and no pip to borrow it from\n' "$PY" >> "$OUT/steps.txt"
fi

# 4. summary ------------------------------------------------------------------------------------------
"$PY" - "$OUT" > "$OUT/summary.txt" <<'PYEOF'
import json, os, sys

out = sys.argv[1]

def load(name):
    try:
        with open(os.path.join(out, name)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None

probe = load("host_probe.json")
doctor = load("doctor.json")
gpu = ((probe or {}).get("facts") or {}).get("gpu") or {}
devices = gpu.get("devices") or []
if devices:
    names = "; ".join(f"{d['index']}: {d['name']} ({d.get('capability') or d.get('arch')})" for d in devices)
    print(f"GPU: {len(devices)} x {gpu.get('backend')} ({names})")
elif probe is None:
    print("GPU: unknown: the host probe did not run (see host_probe.json.stderr)")
else:
    visible = next((c for c in probe["checks"] if c["name"] == "GPU visible"), {})
    detail = visible.get("detail") or "torch sees no accelerator"
    print(detail if detail.startswith("no GPU") else f"no GPU: {detail}")
if gpu:
    driver = ", ".join(f"{k} {v}" for k, v in sorted((gpu.get("driver") or {}).items())) or "none"
    print(f"torch {gpu.get('torch')}: cuda {gpu.get('cuda')}, hip {gpu.get('hip')}; driver: {driver}")
if probe is not None:
    failed = [c["name"] for c in probe["checks"] if not c["ok"]]
    print(f"host probes: {len(probe['checks']) - len(failed)}/{len(probe['checks'])} passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
if doctor is not None:
    for check in doctor["checks"]:
        if check["group"] == "gpu":
            print(f"doctor {check['name']}: {check['status']}: {check['detail'].splitlines()[0][:200]}")
else:
    print("doctor: no report (see steps.txt)")
PYEOF
# The driver against torch's CUDA needs dockyard's knowledge base (and packaging): where doctor ran.
if [ -s "$OUT/doctor.json" ]; then
    "$PY" - "$OUT" >> "$OUT/summary.txt" 2>> "$OUT/steps.txt" <<'PYEOF'
import json, os, sys
from dockyard.verify.host import driver_result
with open(os.path.join(sys.argv[1], "host_probe.json")) as handle:
    result = driver_result(json.load(handle).get("facts", {}).get("gpu") or {})
if result is not None:
    print(f"GPU driver: {'ok' if result.ok else 'FAIL'}: {result.actual}, needs {result.expected}: {result.detail}")
PYEOF
fi
cat "$OUT/steps.txt" >> "$OUT/summary.txt"
say "done: $OUT"
cat "$OUT/summary.txt" >&2
exit 0
