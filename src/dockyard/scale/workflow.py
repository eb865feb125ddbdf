"""A GitHub Actions workflow that builds every image, verifies it with dockyard's probes, then pushes it.

One job per image (a matrix with fail-fast off), on GitHub's runners:
  render the build context with dockyard -> build with BuildKit, loaded into the runner's docker, cache
  in GitHub's cache -> `dockyard verify` runs the probes inside it -> only then, and never for a pull
  request, build again from the cache just filled (every step a cache hit) and push with SBOM and
  provenance attestations, tagged with the versions and the source commit.
The upstream transformers commit is resolved once, in its own job, from the branch or tag asked for,
and handed to every image built from a git ref as TRANSFORMERS_REF: the same commit for all images,
and a new commit busts exactly the steps it should. Images pinned to a release do not use it.

Security: actions pinned by commit SHA; `permissions: {}` at the top and the least each job needs;
checkout without persisted credentials; every `${{ }}` value reaches a shell through `env`, never
inside a script; pushes only from the default branch's events, not from pull requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dockyard import __version__
from dockyard.errors import InputError
from dockyard.render.renderer import render
from dockyard.scale import yamlout
from dockyard.scale.actions import DEFAULT_PINS, Pin
from dockyard.scale.select import Selected, version_tag
from dockyard.scale.yamlout import Commented, Node
from dockyard.scale.yamlout import Expression as E
from dockyard.spec.references import cron, git_ref, refuse_breaks, repository, runner_label
from dockyard.spec.secrets import refuse_secret_value

WORKFLOW_PATH = ".github/workflows/images.yml"
TRANSFORMERS_GIT = "https://github.com/huggingface/transformers.git"
DOCKYARD = '"$RUNNER_TEMP/dockyard/bin/dockyard"'
NOT_PR = "github.event_name != 'pull_request'"
DEFAULT_INSTALL = f"dockyard=={__version__}"

RESOLVE_SCRIPT = f"""\
REF="${{REF:-$DEFAULT_REF}}"  # a manual run's input, else the default given when the workflow was generated
if [[ "$REF" =~ ^[0-9a-f]{{40}}$ ]]; then
  sha="$REF"
else
  refs="$(git ls-remote {TRANSFORMERS_GIT} "refs/heads/$REF" "refs/tags/$REF" "refs/tags/$REF^{{}}")"
  sha="$(printf '%s\\n' "$refs" | awk '$2 ~ /\\^\\{{\\}}$/ {{print $1; exit}}')"
  [ -n "$sha" ] || sha="$(printf '%s\\n' "$refs" | awk 'NF {{print $1; exit}}')"
fi
if [ -z "$sha" ]; then
  echo "::error::huggingface/transformers has no branch or tag named $REF"
  exit 1
fi
echo "sha=$sha" >> "$GITHUB_OUTPUT"
echo "transformers $REF resolved once to $sha" >> "$GITHUB_STEP_SUMMARY"
"""

INSTALL_SCRIPT = """\
python3 -m venv "$RUNNER_TEMP/dockyard"
"$RUNNER_TEMP/dockyard/bin/pip" install --disable-pip-version-check "$DOCKYARD_REQUIREMENT"
"$RUNNER_TEMP/dockyard/bin/dockyard" --version
"""

FREE_DISK_SCRIPT = """\
sudo rm -rf /usr/share/dotnet /usr/local/lib/android /opt/ghc /opt/hostedtoolcache/CodeQL
docker image prune --all --force
df -h /
"""


@dataclass(frozen=True)
class WorkflowOptions:
    registry: str = ""  # e.g. ghcr.io/acme; empty: build and verify only, never push
    runner: str = "ubuntu-24.04"
    install: str = DEFAULT_INSTALL  # how the runner gets dockyard (a requirement pip understands)
    cron: str = "17 3 * * 1"
    branch: str = "main"
    path: str = WORKFLOW_PATH  # where the workflow lives in the repository (a path filter)
    transformers_ref: str = "main"
    environment: str = "registry"  # GitHub environment holding REGISTRY_USERNAME/REGISTRY_PASSWORD (not GHCR)
    pins: Mapping[str, Pin] = field(default_factory=lambda: dict(DEFAULT_PINS))
    command: str = ""


def check_options(options: WorkflowOptions) -> None:
    """Every option that reaches the workflow, checked against its grammar before anything is written."""
    if options.registry:
        repository(options.registry, "--registry")
        refuse_secret_value(options.registry, "--registry")
    runner_label(options.runner, "--runner")
    cron(options.cron, "--cron")
    git_ref(options.branch, "--branch")
    git_ref(options.transformers_ref, "--transformers-ref")
    refuse_breaks(options.install, "--install")
    refuse_secret_value(options.install, "--install")
    refuse_breaks(options.path, "the workflow path")


def _uses(pins: Mapping[str, Pin], action: str) -> Commented:
    pin = pins[action]
    return Commented(pin.uses(), pin.version)


def _spec_path(ref: str, repo_root: Path) -> str | None:
    """A spec file as a path inside the repository (None for a preset)."""
    path = Path(ref)
    if not (path.suffix == ".toml" or "/" in ref or path.exists()):
        return None
    try:
        relative = path.resolve().relative_to(repo_root.resolve())
    except ValueError:
        raise InputError(f"{ref}: the workflow runs in a checkout of this repository, and this spec file is "
                         f"outside it ({repo_root})",
                         "run `dockyard ci github` from the repository root with spec files inside it") from None
    return PurePosixPath(relative.as_posix()).as_posix()


def matrix_entry(item: Selected, spec: str) -> dict[str, Node]:
    args = render(item.plan).build_args
    return {
        "name": item.name,
        "spec": spec,
        "versions": version_tag(item.plan, args),
        "transformers-ref": "TRANSFORMERS_REF" in args,
        "large": item.plan.torch.build not in ("cpu", "none"),  # CUDA/ROCm/XPU stacks fill a runner's disk
    }


def _login(options: WorkflowOptions) -> dict[str, Node]:
    host = options.registry.split("/", 1)[0]
    with_: dict[str, Node]
    if host == "ghcr.io":
        with_ = {"registry": "ghcr.io", "username": E("${{ github.actor }}"),
                 "password": E("${{ secrets.GITHUB_TOKEN }}")}
    else:
        explicit = "." in host or ":" in host or host == "localhost"
        with_ = {**({"registry": host} if explicit else {}),
                 "username": E("${{ secrets.REGISTRY_USERNAME }}"), "password": E("${{ secrets.REGISTRY_PASSWORD }}")}
    return {"name": f"Log in to {host if '.' in host or ':' in host else 'Docker Hub'}",
            "uses": _uses(options.pins, "docker/login-action"), "with": with_}


def _build_with(cache_to: bool) -> dict[str, Node]:
    with_: dict[str, Node] = {
        "context": E("${{ runner.temp }}/context"),
        "build-args": E("${{ matrix.transformers-ref && format('TRANSFORMERS_REF={0}', "
                        "needs.resolve.outputs.transformers-sha) || '' }}"),
        "cache-from": E("type=gha,scope=${{ matrix.name }}"),
    }
    if cache_to:
        with_["cache-to"] = E("type=gha,scope=${{ matrix.name }},mode=max")
    return with_


def _image_steps(options: WorkflowOptions, publish: bool) -> list[Node]:
    pins = options.pins
    steps: list[Node] = [
        {"name": "Free disk space for accelerator images", "if": E("${{ matrix.large }}"), "run": FREE_DISK_SCRIPT},
        {"name": "Check out the specs", "uses": _uses(pins, "actions/checkout"),
         "with": {"persist-credentials": False}},
        {"name": "Install dockyard", "env": {"DOCKYARD_REQUIREMENT": options.install}, "run": INSTALL_SCRIPT},
        {"name": "Render the build context", "env": {"SPEC": E("${{ matrix.spec }}")},
         "run": f'{DOCKYARD} render "$SPEC" -o "$RUNNER_TEMP/context"\n'},
        {"name": "Set up BuildKit", "uses": _uses(pins, "docker/setup-buildx-action")},
        {"name": "Build (loaded for the probes, not pushed)", "uses": _uses(pins, "docker/build-push-action"),
         "with": {**_build_with(cache_to=True), "load": True, "push": False, "provenance": False, "sbom": False,
                  "tags": E("dockyard-ci/${{ matrix.name }}:verify")}},
        {"name": "Verify: dockyard's probes inside the image",
         "env": {"SPEC": E("${{ matrix.spec }}"), "IMAGE": E("dockyard-ci/${{ matrix.name }}:verify")},
         "run": f'{DOCKYARD} verify "$IMAGE" --spec "$SPEC"\n'},
    ]
    if publish:
        image = f"{options.registry.rstrip('/')}/${{{{ matrix.name }}}}"
        tags = E("\n".join((f"{image}:latest", f"{image}:${{{{ matrix.versions }}}}",
                            f"{image}:${{{{ matrix.versions }}}}-${{{{ github.sha }}}}")) + "\n")
        steps += [
            _login(options),
            {"name": "Push the verified image (same cache: every step a cache hit)",
             "uses": _uses(pins, "docker/build-push-action"),
             "with": {**_build_with(cache_to=False), "push": True, "tags": tags,
                      "labels": E("org.opencontainers.image.revision=${{ github.sha }}\n"),
                      "sbom": True, "provenance": "mode=max"}},
        ]
    return steps


def _jobs(options: WorkflowOptions, entries: list[Node]) -> dict[str, Node]:
    """`verify` builds and probes (every event without a registry, else pull requests only: no secret and
    no write permission ever reaches a pull request's code); `publish` does the same and then pushes, on
    the other events, with the registry's credentials (GHCR: the job's token; else an environment's)."""
    strategy: dict[str, Node] = {"fail-fast": False, "matrix": {"include": entries}}
    common: dict[str, Node] = {"name": E("${{ matrix.name }}"), "needs": "resolve", "runs-on": options.runner}
    read: dict[str, Node] = {"contents": Commented("read", "check out the specs")}
    jobs: dict[str, Node] = {"verify": {
        **common,
        **({"if": "github.event_name == 'pull_request'"} if options.registry else {}),
        "permissions": read, "timeout-minutes": 240, "strategy": strategy,
        "steps": _image_steps(options, publish=False),
    }}
    if options.registry:
        ghcr = options.registry.startswith("ghcr.io/")
        permissions = {**read, **({"packages": Commented("write", "push the verified images to ghcr.io")}
                                  if ghcr else {})}
        jobs["publish"] = {
            **common,
            "if": NOT_PR,
            **({} if ghcr else {"environment": options.environment}),
            "permissions": permissions, "timeout-minutes": 240, "strategy": strategy,
            "steps": _image_steps(options, publish=True),
        }
    return jobs


def _paths(specs: Sequence[str], options: WorkflowOptions, models: Sequence[str] = ()) -> list[Node]:
    """What a change to triggers a build: the workflow, each spec and its folder's specs, each path: model."""
    paths = [options.path]
    for spec in specs:
        folder = PurePosixPath(spec).parent
        paths += [spec, "*.toml" if str(folder) == "." else f"{folder}/*.toml"]
    paths += [f"{model}/**" if model != "." else "**" for model in models]
    return list(dict.fromkeys(paths))


def _model_folder(item: Selected, repo_root: Path) -> str | None:
    """A serve spec's path: model folder inside the repository (it is confined to the spec's folder)."""
    serve = item.plan.serve
    if serve is None or serve.model.path is None:
        return None
    try:
        return serve.model.path.resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        return None


def workflow(selected: Sequence[Selected], options: WorkflowOptions, repo_root: Path | None = None) -> str:
    check_options(options)
    root = repo_root or Path.cwd()
    entries: list[Node] = []
    specs: list[str] = []
    models: list[str] = []
    for item in selected:
        spec = _spec_path(item.ref, root)
        if spec:
            specs.append(spec)
        if (model := _model_folder(item, root)) is not None:
            models.append(model)
        entries.append(matrix_entry(item, spec or item.ref))
    paths = _paths(specs, options, models)
    document: dict[str, Node] = {
        "name": "images",
        "on": {
            "schedule": [{"cron": options.cron}],
            "workflow_dispatch": {"inputs": {"transformers-ref": {
                "description": "transformers branch, tag or commit for images built from a git ref (resolved "
                               "once to a commit)",
                "type": "string", "default": options.transformers_ref}}},
            "push": {"branches": [options.branch], "paths": paths},
            "pull_request": {"paths": paths},
        },
        "permissions": {},
        "concurrency": {"group": E("${{ github.workflow }}-${{ github.ref }}"),
                        "cancel-in-progress": E("${{ github.event_name == 'pull_request' }}")},
        "jobs": {
            "resolve": {
                "name": "Resolve the transformers commit once",
                "runs-on": options.runner,
                "permissions": {},
                "timeout-minutes": 5,
                "outputs": {"transformers-sha": E("${{ steps.ref.outputs.sha }}")},
                "steps": [{"name": "git ls-remote", "id": "ref",
                           "env": {"REF": E("${{ inputs.transformers-ref }}"),
                                   "DEFAULT_REF": options.transformers_ref},
                           "shell": "bash", "run": RESOLVE_SCRIPT}],
            },
            **_jobs(options, entries),
        },
    }
    push_note = (f"pushes to {options.registry} after the probes pass (never from a pull request)"
                 if options.registry else "builds and verifies only (no --registry: nothing is pushed)")
    header = [
        f"Generated by dockyard {__version__}{': ' + options.command if options.command else ''}.",
        "Edit the specs and regenerate; do not edit by hand.",
        f"Each image: render -> build (GitHub cache) -> dockyard verify -> {push_note}.",
        f"dockyard on the runner comes from {options.install!r}: point it at where your site gets dockyard.",
    ]
    return yamlout.dump(document, header)
