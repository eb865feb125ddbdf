"""The serve profile's parts of the Dockerfile: the model (its own layer, before any app files), the port,
a health check that needs no curl, and (hub: models) a stage that downloads the model with the token
only as the BuildKit secret `hf_token`; a hub: model fetched at start instead gets the download script
in the image and an empty /opt/model owned by the image's user (a new named volume copies that owner)."""

from __future__ import annotations

from dockyard.render.blocks.common import SCRIPTS, RenderContext, fetch, script
from dockyard.render.instructions import (
    Arg,
    Comment,
    Copy,
    Expose,
    Healthcheck,
    Instruction,
    Run,
    SecretMount,
    Stage,
    StageBuilder,
)
from dockyard.resolve.plan import Plan

MODEL_CONTEXT = "model"  # where a path: model lies in the build context
HUB_SECRET = "hf_token"
HUB_ENDPOINT = "https://huggingface.co"


def model_stage(ctx: RenderContext) -> Stage | None:
    """For a hub: model, a stage on top of the builder that downloads it (the final image copies the folder)."""
    serve = ctx.plan.serve
    if serve is None or serve.model.kind != "hub" or not serve.model.baked:
        return None
    model = serve.model
    ctx.add_file("dockyard/hub_model.py", _packaged("hub_model.py"))
    stage = StageBuilder("model", "builder", "The model, downloaded at build time; the token is a secret mount")
    # huggingface_hub reads HF_ENDPOINT: a Hub mirror, e.g. a company's proxy of the Hub
    stage.add(Arg("HF_ENDPOINT", HUB_ENDPOINT), Run(
        (fetch(f"{ctx.plan.venv}/bin/python {SCRIPTS}/hub_model.py {model.ref} {model.revision or '-'} "
               f"{model.container_path}"),),
        (SecretMount(HUB_SECRET), SecretMount("ca"), script("fetch.sh"), script("hub_model.py")),
        comment=f"{model.spelled()} from the Hugging Face Hub (token: --secret id={HUB_SECRET},env=HF_TOKEN)",
    ))
    return stage.build()


def _packaged(name: str) -> str:
    from importlib import resources

    return (resources.files("dockyard") / "render" / "files" / name).read_text(encoding="utf-8")


FETCH_SCRIPT = "/opt/dockyard/hub_model.py"  # in images whose hub: model is fetched at start


def start_fetch_files(ctx: RenderContext) -> None:
    """The build context's copy of the download script, for an image that fetches its model at start."""
    if ctx.plan.serve is not None and ctx.plan.serve.model.fetched_at_start:
        ctx.add_file("dockyard/hub_model.py", _packaged("hub_model.py"))


def model_layer(plan: Plan) -> list[Instruction]:
    """The model's own layer in the final image: it changes less often than app files, more than the venv."""
    serve = plan.serve
    if serve is not None and serve.model.fetched_at_start:
        path = serve.model.container_path
        # The image's own Python makes the folder: a slim serve image's root has no coreutils (`install`).
        make = (f"import os; os.makedirs({path!r}, exist_ok=True); os.chmod({path!r}, 0o755); "
                f"os.chown({path!r}, {plan.uid}, {plan.uid})")
        return [Comment(f"{serve.model.spelled()} is fetched at start into a volume at {path} by this script (the "
                        "same image, another command); the empty folder gives a new volume its owner"),
                Copy(("dockyard/hub_model.py",), "/opt/dockyard/"),
                Run((f'{plan.venv}/bin/python -c "{make}"',))]
    if serve is None or not serve.model.baked:
        return []
    path = serve.model.container_path
    if serve.model.kind == "path":
        return [Comment(f"The model ({serve.model.spelled()}), in its own layer"),
                Copy((f"{MODEL_CONTEXT}/",), f"{path}/")]
    return [Comment(f"The model ({serve.model.spelled()}), in its own layer"),
            Copy((path,), path, from_stage="model")]


def health_command(plan: Plan) -> tuple[str, ...]:
    """The image's own Python asks the gateway's readiness endpoint (no curl in a slim image): healthy once
    the server answered a warm-up request."""
    assert plan.serve is not None
    url = f"http://127.0.0.1:{plan.serve.port}{plan.serve.ready_path}"
    return (f"{plan.venv}/bin/python", "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)")


def serve_endpoint(plan: Plan) -> list[Instruction]:
    if plan.serve is None:
        return []
    return [Expose(plan.serve.port), Healthcheck(health_command(plan))]
