"""docker-bake.hcl: one bake target per image, for BuildKit on this machine, a remote builder or a cluster.

Each image's build context (Dockerfile, scripts, probe, plan) is rendered into its own folder; the bake
file points at those folders. What the file carries:

- variables for the versions (every *_VERSION / *_REF ARG, MAX_JOBS, PIP_INDEX_URL): one global
  variable when every image declaring the ARG agrees on its value, else one per image (CPU_INFERENCE_...);
- shared stages: images whose `base` stage is the same (same base image, same instructions, same
  scripts) get one `base-<hash>` target, and each of them replaces its own base stage with it through
  `contexts = { base = "target:base-<hash>" }`, so BuildKit builds it once;
- tags with the versions and, when SOURCE_COMMIT is set, the source commit; OCI revision label;
- cache-from/cache-to for a registry (CACHE_REGISTRY) and GitHub Actions (GHA_CACHE=true);
- the CA and netrc as build secrets (CA_CERT, NETRC: file paths), never build args;
- SBOM and provenance attestations; a `check` group that runs BuildKit's build checks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard import __version__
from dockyard.engine.detect import Engine
from dockyard.errors import EngineError, InputError
from dockyard.render.blocks.common import RenderOptions
from dockyard.render.owned import OwnedFolder, check_file_output, write_file
from dockyard.render.renderer import Rendered, render
from dockyard.scale import hcl
from dockyard.scale.hcl import Expr, Value
from dockyard.scale.select import Selected, version_tag
from dockyard.spec.references import comment_lines, repository
from dockyard.spec.secrets import refuse_secret_value

ATTEST = ["type=sbom", "type=provenance,mode=max"]
FIXED_VARIABLES: tuple[tuple[str, Value, str], ...] = (
    ("REGISTRY", "dockyard", "Registry and namespace of the tags (e.g. ghcr.io/acme)"),
    ("SOURCE_COMMIT", "", "Commit of the repository that holds the specs; adds a tag and the OCI revision label"),
    ("CACHE_REGISTRY", "", "Registry cache repository (e.g. ghcr.io/acme/cache): cache-from/to type=registry"),
    ("GHA_CACHE", False, "true on GitHub Actions: cache-from/to type=gha"),
    ("CA_CERT", "", "File with the CA bundle of a TLS-intercepting proxy, handed over as the secret id=ca"),
    ("NETRC", "", "netrc file for package index logins, handed over as the secret id=netrc"),
)
FUNCTIONS = '''function "tags" {
  params = [name, versions]
  result = concat(
    ["${REGISTRY}/${name}:latest", "${REGISTRY}/${name}:${versions}"],
    SOURCE_COMMIT != "" ? ["${REGISTRY}/${name}:${versions}-${SOURCE_COMMIT}"] : [],
  )
}

function "cache_from" {
  params = [scope]
  result = concat(
    CACHE_REGISTRY != "" ? ["type=registry,ref=${CACHE_REGISTRY}:${scope}"] : [],
    GHA_CACHE ? ["type=gha,scope=${scope}"] : [],
  )
}

function "cache_to" {
  params = [scope]
  result = concat(
    CACHE_REGISTRY != "" ? ["type=registry,ref=${CACHE_REGISTRY}:${scope},mode=max"] : [],
    GHA_CACHE ? ["type=gha,scope=${scope},mode=max"] : [],
  )
}

function "build_secrets" {
  params = []
  result = concat(
    CA_CERT != "" ? ["id=ca,src=${CA_CERT}"] : [],
    NETRC != "" ? ["id=netrc,src=${NETRC}"] : [],
  )
}'''


@dataclass(frozen=True)
class BakeImage:
    selected: Selected
    rendered: Rendered
    context: str  # relative to the bake file's folder, POSIX separators

    @property
    def target(self) -> str:
        return target_name(self.selected.name)


@dataclass(frozen=True)
class BakeResult:
    path: Path
    text: str
    contexts: dict[str, Path]  # target -> folder written
    shared: dict[str, list[str]]  # base target -> image targets using it


def target_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def variable_prefix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def is_version_arg(name: str) -> bool:
    return name.endswith(("_VERSION", "_REF")) or name in ("MAX_JOBS", "PIP_INDEX_URL")


def variables(images: Sequence[BakeImage]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(variable -> default, target -> {ARG -> variable})."""
    values: dict[str, set[str]] = {}
    for image in images:
        for arg, default in image.rendered.build_args.items():
            if is_version_arg(arg):
                values.setdefault(arg, set()).add(default)
    defaults: dict[str, str] = {}
    uses: dict[str, dict[str, str]] = {}
    for image in images:
        mapping = uses.setdefault(image.target, {})
        for arg, default in image.rendered.build_args.items():
            if not is_version_arg(arg):
                continue
            name = arg if len(values[arg]) == 1 else f"{variable_prefix(image.selected.name)}_{arg}"
            defaults[name] = default
            mapping[arg] = name
    return dict(sorted(defaults.items())), uses


def base_stage_key(rendered: Rendered) -> str:
    """Identity of the `base` stage: base image, its instructions and the scripts they bind-mount."""
    text = rendered.dockerfile
    start = text.index("FROM ${BASE_IMAGE} AS base")
    end = text.find("\n\n", start)
    stage = text[start:] if end < 0 else text[start:end]
    digest = hashlib.sha256(rendered.build_args.get("BASE_IMAGE", "").encode())
    digest.update(stage.encode())
    for source in sorted(set(re.findall(r"source=(dockyard/[\w.-]+)", stage))):
        digest.update(rendered.files.get(source, "").encode())
    return digest.hexdigest()[:10]


def shared_bases(images: Sequence[BakeImage]) -> dict[str, list[BakeImage]]:
    groups: dict[str, list[BakeImage]] = {}
    for image in images:
        groups.setdefault(f"base-{base_stage_key(image.rendered)}", []).append(image)
    return {name: members for name, members in groups.items() if len(members) > 1}


def _args(image: BakeImage, uses: dict[str, dict[str, str]]) -> dict[str, Value]:
    return {arg: Expr(variable) for arg, variable in sorted(uses[image.target].items())}


def _image_target(image: BakeImage, uses: dict[str, dict[str, str]], base: str | None) -> str:
    plan = image.selected.plan
    interpolations = {arg: f"${{{variable}}}" for arg, variable in uses[image.target].items()}
    versions = version_tag(plan, image.rendered.build_args, interpolations)
    body: list[tuple[str, Value]] = [
        ("context", image.context),
        ("dockerfile", "Dockerfile"),
        ("target", "runtime"),
    ]
    if base:
        body.append(("contexts", {"base": f"target:{base}"}))
    body += [
        ("args", _args(image, uses)),
        ("tags", Expr(f"tags({hcl.literal(plan.name)}, {hcl.template(versions)})")),
        ("labels", {"org.opencontainers.image.revision": Expr("SOURCE_COMMIT"),
                    "org.opencontainers.image.title": plan.name}),
        ("secret", Expr("build_secrets()")),
        ("cache-from", Expr(f"cache_from({hcl.literal(image.target)})")),
        ("cache-to", Expr(f"cache_to({hcl.literal(image.target)})")),
        ("attest", ATTEST),
    ]
    source = "" if image.selected.ref == plan.name else f" (from {image.selected.ref})"
    comment = f"{plan.name}{source}: {plan.spec.description or plan.target}\nspec {plan.digest}"
    return hcl.block("target", [image.target], body, comment)


def _base_target(name: str, members: Sequence[BakeImage]) -> str:
    first = members[0]
    body: list[tuple[str, Value]] = [
        ("context", first.context),
        ("dockerfile", "Dockerfile"),
        ("target", "base"),
        ("cache-from", Expr(f"cache_from({hcl.literal(name)})")),
        ("cache-to", Expr(f"cache_to({hcl.literal(name)})")),
    ]
    image = first.rendered.build_args.get("BASE_IMAGE", "")
    comment = f"The base stage ({image}) shared by {', '.join(m.target for m in members)}: built once"
    return hcl.block("target", [name], body, comment)


def _check_target(image: BakeImage, uses: dict[str, dict[str, str]]) -> str:
    body: list[tuple[str, Value]] = [
        ("context", image.context),
        ("dockerfile", "Dockerfile"),
        ("args", _args(image, uses)),
        ("call", "check"),
    ]
    return hcl.block("target", [f"check-{image.target}"], body)


def bake_text(images: Sequence[BakeImage], registry: str = "dockyard", command: str = "") -> str:
    defaults, uses = variables(images)
    shared = shared_bases(images)
    base_of = {m.target: name for name, members in shared.items() for m in members}
    header = [
        f"# Generated by dockyard {__version__}{': ' + command if command else ''}. Edit the specs, not this file.",
        "# Run from this folder (context paths are relative to it):",
        "#   docker buildx bake --file docker-bake.hcl                     build every image",
        "#   docker buildx bake --file docker-bake.hcl --push              build and push (REGISTRY=...)",
        "#   docker buildx bake --file docker-bake.hcl check               BuildKit's build checks only",
        "#   docker buildx bake --builder NAME ...                         on a remote or Kubernetes builder",
        "# Variables come from the environment: REGISTRY=ghcr.io/acme SOURCE_COMMIT=$(git rev-parse HEAD) ...",
    ]
    parts = ["\n".join(f"# {line}".rstrip() for entry in header for line in comment_lines(entry[2:]))]
    for name, default, description in FIXED_VARIABLES:
        value = registry if name == "REGISTRY" else default
        parts.append(hcl.block("variable", [name], [("default", value)], description))
    for name, default in defaults.items():
        parts.append(hcl.block("variable", [name], [("default", default)]))
    parts.append(FUNCTIONS)
    parts.append(hcl.block("group", ["default"], [("targets", [i.target for i in images])],
                           "Every image"))
    parts.append(hcl.block("group", ["check"], [("targets", [f"check-{i.target}" for i in images])],
                           "BuildKit build checks of every Dockerfile (no image is built)"))
    for name, members in shared.items():
        parts.append(_base_target(name, members))
    for image in images:
        parts.append(_image_target(image, uses, base_of.get(image.target)))
    for image in images:
        parts.append(_check_target(image, uses))
    return "\n\n".join(parts) + "\n"


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def check_names(images: Sequence[BakeImage]) -> None:
    """Two images whose names sanitise to the same target, variable prefix or folder would overwrite each
    other's target and build context: refused, naming both."""
    seen: dict[str, str] = {}
    for image in images:
        name = image.selected.name
        for key in (image.target, f"check-{image.target}", f"prefix {variable_prefix(name)}"):
            other = seen.setdefault(key.lower(), name)
            if other != name:
                raise InputError(f"{other!r} and {name!r} both become the bake name {key.removeprefix('prefix ')!r} "
                                 "(names are reduced to letters, digits, '-' and '_'), so one would overwrite the "
                                 "other", 'give one of them another [image] name = "..."')


def write_bake(selected: Sequence[Selected], output: Path, context_root: Path | None = None,
               registry: str = "dockyard", command: str = "") -> BakeResult:
    """Render every image's context under `context_root` and write the bake file to `output`.

    Everything is rendered and checked (names, the registry, every path to be written) before the
    first file is written; only files that dockyard wrote before are replaced."""
    repository(registry, "--registry")
    refuse_secret_value(registry, "--registry")
    root = context_root or output.parent / "dockyard-contexts"
    images = []
    for item in selected:
        rendered = render(item.plan, RenderOptions(cache_mounts=True))
        folder = root / target_name(item.name)
        images.append(BakeImage(item, rendered, _relative(folder, output.parent)))
    check_names(images)
    text = bake_text(images, registry, command)
    check_file_output(output, "-o")
    folders = {image.target: OwnedFolder(root / image.target, "--context-root") for image in images}
    for image in images:
        folders[image.target].check(image.rendered.paths())
    contexts: dict[str, Path] = {}
    for image in images:
        folder = root / image.target
        image.rendered.write(folder, "--context-root")
        contexts[image.target] = folder
    write_file(output, text, "-o")
    shared = {name: [m.target for m in members] for name, members in shared_bases(images).items()}
    return BakeResult(output, text, contexts, shared)


def bake_argv(engine: Engine, file: Path, targets: Sequence[str] = (), builder: str = "",
              push: bool = False) -> list[str]:
    """`docker buildx bake` for this file; refused clearly where the client has no buildx."""
    if not engine.capabilities.bake:
        raise EngineError(f"{engine.describe()}: no `docker buildx bake` (bake needs the buildx plugin)",
                          "install docker-buildx (or Docker Desktop), or run the bake file on a machine or CI "
                          "runner that has it; `dockyard matrix build` builds the same images without bake")
    argv = [engine.client, "buildx", "bake", "--file", str(file)]
    if builder:
        argv += ["--builder", builder]
    if push:
        argv.append("--push")
    return [*argv, *targets]
