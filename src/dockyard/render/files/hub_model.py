"""dockyard: download a model from the Hugging Face Hub at build time, into the image's model folder.

    python hub_model.py ORG/NAME REVISION|- DEST

The token, if any, is read from the BuildKit secret mount /run/secrets/hf_token (`dockyard build
--secret id=hf_token,env=HF_TOKEN`): it is passed to huggingface_hub in memory, never written to the
environment, a file or a layer. Without the secret the download is anonymous (public models).
"""

from __future__ import annotations

import os
import sys

TOKEN_FILE = "/run/secrets/hf_token"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit("usage: hub_model.py ORG/NAME REVISION|- DEST")
    repo, revision, dest = argv
    token = None
    if os.path.isfile(TOKEN_FILE):
        with open(TOKEN_FILE, encoding="utf-8") as handle:
            token = handle.read().strip() or None
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # a build fetches the model, nothing else
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    try:
        path = snapshot_download(repo_id=repo, revision=None if revision == "-" else revision, local_dir=dest,
                                 token=token)
    except LocalEntryNotFoundError as exc:  # no answer: offline, DNS, a firewall, a mirror that is down
        cause = exc.__cause__ or exc.__context__ or exc
        print(f"dockyard: cannot reach the Hugging Face Hub at {endpoint}: {type(cause).__name__}: "
              f"{str(cause).splitlines()[0] if str(cause) else ''}", file=sys.stderr)
        return 1
    except (GatedRepoError, RepositoryNotFoundError) as exc:  # an answer, without access
        print(f"dockyard: the Hugging Face Hub refused {repo}@{revision} ({type(exc).__name__}, "
              f"{'with' if token else 'without'} a token)", file=sys.stderr)
        return 1
    # huggingface_hub keeps download metadata beside the files; the image needs only the model
    cache = os.path.join(path, ".cache")
    if os.path.isdir(cache):
        import shutil

        shutil.rmtree(cache)
    print(f"dockyard: {repo}@{revision} downloaded to {dest} ({'with' if token else 'without'} a token)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
