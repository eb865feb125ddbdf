"""dockyard: download a model from the Hugging Face Hub into a folder: the image's model folder at build
time, or at start (`[serve] fetch = "start"`) the volume the server then reads with the Hub offline.

    python hub_model.py ORG/NAME REVISION|- DEST

The token, if any, is read from /run/secrets/hf_token (a BuildKit secret at build time, `--secret
id=hf_token,env=HF_TOKEN`; a Kubernetes or compose secret at start), else from HF_TOKEN in the
environment: it is passed to huggingface_hub in memory, never written to a file, a layer or the output.
Without one the download is anonymous (public models).

Of the weight formats a repository carries, only the one transformers loads is downloaded (WEIGHTS: the
first pattern that matches a file; safetensors before pytorch_model*.bin), and never TensorFlow, Flax or
Rust weights: a repository with both safetensors and .bin files costs one copy, not two.

A finished download leaves DEST/.dockyard-model.json naming the repository and revision; when that file
already names them, nothing is downloaded and no network is needed (a second start, a pre-filled volume).
"""

from __future__ import annotations

import json
import os
import sys

TOKEN_FILE = "/run/secrets/hf_token"
MARKER = ".dockyard-model.json"
# The same preference as knowledge/deploy.toml [resources] weight_files (a test keeps them equal).
WEIGHTS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")
NEVER = ("*.h5", "*.msgpack", "*.ot", "*.tflite")  # TensorFlow, Flax, Rust weights: not for torch


def skipped(names: list[str]) -> list[str]:
    """ignore_patterns for snapshot_download: every weight format but the one transformers loads."""
    import fnmatch

    chosen = next((p for p in WEIGHTS if any(fnmatch.fnmatch(n.rsplit("/", 1)[-1], p) for n in names)), None)
    return [p for p in WEIGHTS if p != chosen] + list(NEVER)


def token() -> str | None:
    if os.path.isfile(TOKEN_FILE):
        with open(TOKEN_FILE, encoding="utf-8") as handle:
            return handle.read(4096).strip() or None
    return os.environ.get("HF_TOKEN") or None


def present(dest: str, repo: str, revision: str) -> bool:
    """The marker of an earlier download of this repository at this revision, with every file it lists."""
    try:
        with open(os.path.join(dest, MARKER), encoding="utf-8") as handle:
            marker = json.load(handle)
    except (OSError, ValueError):
        return False
    files = marker.get("files") if isinstance(marker, dict) else None
    return (marker.get("repo") == repo and marker.get("revision") == revision and isinstance(files, list)
            and all(os.path.isfile(os.path.join(dest, str(name))) for name in files))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit("usage: hub_model.py ORG/NAME REVISION|- DEST")
    repo, revision, dest = argv
    if present(dest, repo, revision):
        print(f"dockyard: {repo}@{revision} is already in {dest}; nothing to download")
        return 0
    secret = token()
    os.environ["HF_HUB_OFFLINE"] = "0"  # a serve image runs offline; this step is the one that goes online
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # fetch the model, nothing else
    from huggingface_hub import HfApi, snapshot_download

    rev = None if revision == "-" else revision
    info = HfApi().model_info(repo, revision=rev, token=secret)
    names = [sibling.rfilename for sibling in info.siblings or []]
    path = snapshot_download(repo_id=repo, revision=rev, local_dir=dest, token=secret,
                             ignore_patterns=skipped(names))
    # huggingface_hub keeps download metadata beside the files; the server needs only the model
    cache = os.path.join(path, ".cache")
    if os.path.isdir(cache):
        import shutil

        shutil.rmtree(cache)
    files = sorted(os.path.relpath(os.path.join(root, name), dest) for root, _, names in os.walk(dest)
                   for name in names if name != MARKER)
    with open(os.path.join(dest, MARKER + ".tmp"), "w", encoding="utf-8") as handle:
        json.dump({"repo": repo, "revision": revision, "files": files}, handle, indent=1, sort_keys=True)
    os.replace(os.path.join(dest, MARKER + ".tmp"), os.path.join(dest, MARKER))
    print(f"dockyard: {repo}@{revision} downloaded to {dest} ({'with' if secret else 'without'} a token)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
