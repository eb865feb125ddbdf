#!/usr/bin/env bash
# checkov's Kubernetes checks on what `dockyard deploy --to kubernetes|kserve` writes (docs/serve.md,
# "Policy checks"). checkov and its many dependencies go into their own virtualenv (.venv-checkov), not
# dockyard's; the outputs come from a serve spec with a weights file, for a GPU target, with every option
# an operator would use (digest, namespace, replicas, autoscaling, KEDA, fetch at start, KServe).
#
#   bash scripts/checkov.sh          exit 0 when checkov finds nothing beyond the documented choices
#
# The documented choices (docs/serve.md) are skipped by id; any other finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[checkov] %s\n' "$*" >&2; }
CHECKOV_VERSION=3.3.30
SKIP="CKV_K8S_11,CKV_K8S_40"  # no CPU limit; the image's own UID (docs/serve.md, "Policy checks")

if [ ! -x .venv-checkov/bin/checkov ]; then
    log "virtualenv .venv-checkov with checkov $CHECKOV_VERSION"
    python3 -m venv .venv-checkov
    .venv-checkov/bin/pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
[ -x .venv/bin/dockyard ] || DOCKYARD_SETUP_SKIP_ENGINE=1 bash scripts/setup.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/model"
printf '{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "torch_dtype": "bfloat16"}' > "$work/model/config.json"
truncate -s 100M "$work/model/model.safetensors"
printf '[image]\nname = "tiny-chat"\ntarget = "cuda"\nprofile = "serve"\n\n[serve]\nmodel = "path:model"\n' > "$work/path.toml"
printf '[image]\nname = "hub-chat"\ntarget = "cuda"\nprofile = "serve"\n\n[serve]\nmodel = "hub:org/tiny@%s"\nfetch = "start"\n' \
    "$(printf 'a%.0s' $(seq 40))" > "$work/hub.toml"
image="registry.example/team/tiny-chat@sha256:$(printf 'ab%.0s' $(seq 32))"
deploy() { .venv/bin/dockyard deploy "$@" --image "$image" --namespace models >/dev/null; }
deploy "$work/path.toml" --to kubernetes -o "$work/out/kubernetes" --replicas 2 --hpa-max 4 --pdb 1 --pull-secret login
deploy "$work/hub.toml" --to kubernetes -o "$work/out/keda" --hpa-max 3 --autoscale keda \
    --prometheus http://prometheus.monitoring:9090 --hf-token-secret hf-token --hf-endpoint https://huggingface.co
deploy "$work/path.toml" --to kserve -o "$work/out/kserve" --replicas 2 --hpa-max 4
log "checking $(find "$work/out" -name '*.yaml' | wc -l) files (skipping the documented choices $SKIP)"
.venv-checkov/bin/checkov --directory "$work/out" --framework kubernetes --compact --quiet --skip-download --skip-check "$SKIP"
