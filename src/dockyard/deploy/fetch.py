"""The fetch step of a `hub:` model with `fetch = "start"`: the serve image itself, run with another
command (its Python and the download script it carries), writes the pinned revision into a volume
mounted at the model's path; the server then mounts that volume read-only and runs with the Hub
offline. The step skips the download when the volume already holds the revision (a second start, a
pre-filled volume: no network needed). A Kubernetes initContainer, a compose one-shot service the server
waits for, and the container `dockyard up` runs first all take their command and paths from here."""

from __future__ import annotations

from dockyard.deploy.model import Deployment
from dockyard.render.blocks.serve import FETCH_SCRIPT

VOLUME = "model"  # the volume's name in a pod or compose file
TOKEN_DIR = "/run/secrets"
TOKEN_FILE = "hf_token"  # the download script reads /run/secrets/hf_token, else HF_TOKEN
CONTAINER = "fetch-model"


def fetches(deployment: Deployment) -> bool:
    return deployment.model.fetched_at_start


def command(deployment: Deployment) -> list[str]:
    """The fetch step's whole command line (it replaces the image's entrypoint)."""
    model = deployment.model
    return [deployment.python, FETCH_SCRIPT, model.ref, model.revision or "-", model.container_path]
