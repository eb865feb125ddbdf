"""Apptainer (Singularity) definitions for HPC sites, with the image's environment and runscript.

Two ways to get the same image:
- from the built image (`Bootstrap: docker-daemon`, or `docker` from a registry): nothing is rebuilt;
- from the base image with the same steps: the rendered Dockerfile's stages become a two-stage
  definition (`builder`, then `runtime` with `%files from builder`), the RUN commands become %post
  (scripts that the Dockerfile bind-mounts are staged by %files and removed at the end of %post; there
  are no layers, so a removed file is gone from the SIF), ARGs become %arguments (Apptainer >= 1.2:
  `apptainer build --build-arg TORCH_VERSION=...`), ENV of the final stage becomes %environment.

Differences Apptainer imposes, on purpose: the runscript drops tini (the process is not PID 1 under
Apptainer, and signals reach it directly); a slim serve image's root trim (the `root` stage) is not
applied (the runtime stage is built on the base stage, whose tools its %post uses); the container runs
as the calling user in their home, so USER/WORKDIR are not translated and HF_HOME defaults to the
caller's own cache; %test runs dockyard's probe with the image's plan, without the non-root check (the
user is whoever runs it).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from dockyard import __version__
from dockyard.errors import InputError
from dockyard.pipeline import default_tags
from dockyard.render.blocks.common import SCRIPTS, RenderOptions
from dockyard.render.owned import OwnedFolder, check_file_output, write_file
from dockyard.render.renderer import Rendered, render
from dockyard.resolve.plan import Plan
from dockyard.scale.deffile import check_structure, comment, export, files_path, header_value, section
from dockyard.scale.stages import DockerStage, Parsed, Step, parse
from dockyard.spec.references import comment_lines, image_reference, refuse_breaks

STAGING = "/opt/dockyard-build"
INDENT = "    "
TINI = "/usr/bin/tini"
PLAN_IN_IMAGE = "/opt/dockyard/plan.json"
RUNTIME_SECTIONS = ["environment", "runscript", "labels", "test", "help"]


@dataclass(frozen=True)
class DefOptions:
    from_image: str | None = None  # None: from the base with the same steps; "" : the image's default tag
    bootstrap: str = "docker-daemon"  # for from_image: docker-daemon | docker (a registry)
    context: str = ""  # the folder with the rendered context, relative to the .def's folder
    ca_cert: bool = False  # a CA bundle is staged at <context>/ca.pem
    base_map: tuple[tuple[str, str], ...] = ()  # image -> replacement (site base map)
    command: str = ""


def _command(text: str) -> str:
    """A RUN command as shell lines; its `&&` chain laid out one command a line when that is safe."""
    text = text.replace(f"{SCRIPTS}/", f"{STAGING}/")
    parts = text.split("     && ")
    if len(parts) > 1 and all(part.count("'") % 2 == 0 and part.count('"') % 2 == 0 for part in parts):
        return f" \\\n{INDENT}&& ".join(parts)
    return text


def _environment(parsed: Parsed, stage: str) -> list[tuple[str, str]]:
    env: dict[str, str] = {}
    chain: list[DockerStage] = []
    name: str | None = stage
    while name in parsed.stages:
        chain.insert(0, parsed.stages[name])
        name = parsed.stages[name].base
    for item in chain:
        for step in item.steps:
            if step.keyword == "ENV":
                env.update(step.pairs)
    return sorted(env.items())


def environment_lines(parsed: Parsed) -> list[str]:
    lines = []
    for key, value in _environment(parsed, "runtime"):
        if key == "HF_HOME":
            lines.append("# the model cache: the caller's own unless HF_HOME is set (the image's home is not theirs)")
            lines.append('export HF_HOME="${HF_HOME:-$HOME/.cache/huggingface}"')
        else:
            lines.append(export(key, value))
    return lines


def runscript_lines(parsed: Parsed) -> list[str]:
    entrypoint: list[str] = []
    cmd: list[str] = []
    for step in parsed.stages["runtime"].steps:
        if step.keyword == "ENTRYPOINT":
            entrypoint = list(step.args)
        elif step.keyword == "CMD":
            cmd = list(step.args)
    if entrypoint[:2] == [TINI, "--"]:
        entrypoint = entrypoint[2:]  # no init under Apptainer: the process is not PID 1
    lines = ["# ENTRYPOINT and CMD of the image: arguments replace CMD, as with docker run IMAGE ARGS"]
    if cmd:
        lines.append(f'if [ "$#" -eq 0 ]; then set -- {refuse_breaks(shlex.join(cmd), "CMD")}; fi')
    lines.append(refuse_breaks(f'exec {shlex.join(entrypoint) + " " if entrypoint else ""}"$@"', "ENTRYPOINT"))
    return lines


def test_lines(venv: str) -> list[str]:
    return [
        "# dockyard's probe with the image's own plan, in a scratch home (the caller's home is not the image's);",
        "# the non-root check is left out: under Apptainer the user is whoever runs the container",
        'export HOME="$(mktemp -d)"',
        'export HF_HOME="$HOME/.cache/huggingface"',
        f"DOCKYARD_EXPECT=\"$({venv}/bin/python -c 'import json,sys; p=json.load(open(sys.argv[1])); "
        f"p[\"non_root\"]=False; print(json.dumps(p))' {PLAN_IN_IMAGE})\" {venv}/bin/python /opt/dockyard/probe.py",
    ]


def label_lines(parsed: Parsed) -> list[str]:
    labels: dict[str, str] = {}
    for step in parsed.stages["runtime"].steps:
        if step.keyword == "LABEL":
            labels.update(step.pairs)
    return [f"{header_value(key, 'a label name')} {refuse_breaks(value, f'the label {key}')}"
            for key, value in sorted(labels.items())]


def _flattened(stage: DockerStage) -> bool:
    """A serve image's final stage: from scratch on a copy of the trimmed root (`COPY --from=root / /`)."""
    first = stage.steps[0] if stage.steps else None
    return (stage.base == "scratch" and first is not None and first.keyword == "COPY"
            and first.flags.get("from") == "root" and first.args == ("/", "/"))


def _stage_chain(parsed: Parsed, name: str) -> tuple[str, list[Step]]:
    """The external base image of a stage and every step from it down to the stage's own. A SIF is one
    file system, not layers: a serve image's final stage is built on the base stage itself, without the
    root trim (which would purge the tools %post still runs)."""
    stage = parsed.stages[name]
    if _flattened(stage):
        base, steps = _stage_chain(parsed, parsed.stages["root"].base)
        return base, [*steps, *stage.steps[1:]]
    if stage.base in parsed.stages:
        base, steps = _stage_chain(parsed, stage.base)
        return base, [*steps, *stage.steps]
    return stage.base, list(stage.steps)


def _expand_base(image: str, parsed: Parsed, options: DefOptions) -> str:
    for name, default in parsed.global_args.items():
        image = image.replace(f"${{{name}}}", default)
    return image_reference(dict(options.base_map).get(image, image), "the base image (after --base-map)")


def _expand(value: str, known: dict[str, str]) -> str:
    """An ARG default with dockyard's `${NAME}` references to earlier ARGs filled in: %post takes every
    argument single-quoted, so nothing is expanded there."""
    for name, default in known.items():
        value = value.replace(f"${{{name}}}", default)
    return value


def _stage_def(parsed: Parsed, name: str, options: DefOptions, extra: list[str]) -> str:
    base, steps = _stage_chain(parsed, name)
    context = files_path(options.context.rstrip("/") or ".", "the context folder")
    arguments: dict[str, str] = {}
    post: list[str] = []
    files: list[str] = [f"{context}/dockyard {STAGING}"]
    from_builder: list[str] = []
    cleanup = [STAGING]
    owners: list[str] = []
    if options.ca_cert:
        files.append(f"{context}/ca.pem {STAGING}/ca.pem")
        post += ["# the proxy's CA for fetch.sh, as the Dockerfile's secret; removed below with the staging folder",
                 f"mkdir -p /run/secrets && cp {STAGING}/ca.pem /run/secrets/ca"]
        cleanup.append("/run/secrets/ca")
    for step in steps:
        if step.comment and step.keyword == "RUN":
            post += [f"# {line}" for line in comment_lines(step.comment)]
        if step.keyword == "ARG":
            arg, _, default = step.args[0].partition("=")
            if arg == "DEBIAN_FRONTEND":
                post.append(export(arg, default))
            else:
                value = _expand(default or parsed.global_args.get(arg, ""), {**parsed.global_args, **arguments})
                arguments[arg] = refuse_breaks(value, f"ARG {arg}")
                if "'" in value:
                    raise InputError(f"ARG {arg}: {value!r} has a single quote, which %post cannot hold quoted")
                post.append(f"export {arg}='{{{{ {arg} }}}}'")
        elif step.keyword == "ENV":
            post += [export(key, value) for key, value in step.pairs]
        elif step.keyword == "RUN":
            for mount in step.mounts:
                target, source = mount.get("target", ""), mount.get("source", "")
                if mount.get("type") == "bind" and not target.startswith(f"{SCRIPTS}/"):
                    files.append(f"{context}/{files_path(source, 'a bind mount')} {files_path(target, 'a bind mount')}")
                    cleanup.append(target)
            post.append(_command(refuse_breaks(" ".join(step.args), "a RUN command")))
        elif step.keyword == "COPY":
            *sources, dest = step.args
            for source in sources:
                target = dest + Path(source).name if dest.endswith("/") and not source.endswith("/") else dest
                files_path(source, "a COPY source")
                files_path(target, "a COPY destination")
                if step.flags.get("from"):
                    from_builder.append(f"{source} {target}")
                else:
                    files.append(f"{context}/{source.rstrip('/')} {target.rstrip('/') or '/'}")
                if step.flags.get("chown"):
                    owners.append(f"chown -R {step.flags['chown']} {target}")
    post += owners
    post.append(f"rm -rf {' '.join(cleanup)}")
    parts = [f"Bootstrap: docker\nFrom: {_expand_base(base, parsed, options)}\nStage: {name}"]
    if arguments:
        parts.append(section("arguments", [f"{k}={v}" for k, v in arguments.items()]))
    if from_builder:
        parts.append(section("files from builder", from_builder))
    parts.append(section("files", list(dict.fromkeys(files))))
    parts.append(section("post", post))
    return "\n\n".join([*parts, *extra])


def _runtime_sections(parsed: Parsed, plan: Plan) -> list[str]:
    help_text = [f"{plan.name}: {plan.spec.description or 'transformers on ' + plan.target}",
                 f"torch {plan.torch.version or plan.torch.channel} ({plan.torch.variant}), transformers "
                 f"{plan.transformers.describe()}, Python {plan.python}; built by dockyard from {plan.spec.source}",
                 f"Run: apptainer run {plan.name}.sif [COMMAND...]   (default: {' '.join(plan.cmd)})"]
    if plan.serve is not None:  # Apptainer has neither EXPOSE (it shares the host's network) nor HEALTHCHECK
        help_text += [f"The gateway listens on the host's port {plan.serve.port}, the server on 127.0.0.1:"
                      f"{plan.serve.upstream_port} (Apptainer shares the host's network; the image's EXPOSE does "
                      "not apply)",
                      f"Ready (no HEALTHCHECK under Apptainer): apptainer exec {plan.name}.sif {plan.venv}/bin/python "
                      f"-c \"import urllib.request; urllib.request.urlopen("
                      f"'http://127.0.0.1:{plan.serve.port}{plan.serve.ready_path}', timeout=4)\""]
    return [
        section("environment", environment_lines(parsed)),
        section("runscript", runscript_lines(parsed)),
        section("labels", label_lines(parsed)),
        section("test", test_lines(plan.venv)),
        section("help", [refuse_breaks(line, "the %help text") for line in help_text]),
    ]


def _header(plan: Plan, options: DefOptions, build: str) -> str:
    lines = [
        f"{plan.name}: Apptainer definition generated by dockyard {__version__}"
        f"{' (' + options.command + ')' if options.command else ''}. Edit the spec, not this file.",
        f"Spec {plan.spec.source} ({plan.digest})",
        f"Build: {build}",
    ]
    return comment("\n".join(lines))


def definition(plan: Plan, rendered: Rendered, options: DefOptions) -> str:
    parsed = parse(rendered.dockerfile)
    if options.from_image is not None:
        image = image_reference(options.from_image or default_tags(plan)[0], "--from-image")
        source = "the local docker daemon" if options.bootstrap == "docker-daemon" else "a registry"
        header = _header(plan, options, f"apptainer build {plan.name}.sif {plan.name}.def  (the image {image} from "
                                        f"{source}; podman: podman save -o {plan.name}.tar and Bootstrap: "
                                        "docker-archive)")
        parts = [header, f"Bootstrap: {options.bootstrap}\nFrom: {image}", *_runtime_sections(parsed, plan)]
        text = "\n\n".join(parts) + "\n"
        check_structure(text, RUNTIME_SECTIONS)
        return text
    if set(parsed.stages) - {"base", "builder", "root", "runtime"} or "runtime" not in parsed.stages:
        raise InputError(f"{plan.name}: the Dockerfile's stages are {', '.join(parsed.stages)}; the Apptainer "
                         "translation knows base, builder, root and runtime")
    proxy = ("the proxy CA is staged from the context and removed in %post" if options.ca_cert
             else "behind a TLS-intercepting proxy regenerate with --ca-cert FILE")
    header = _header(plan, options, f"apptainer build {plan.name}.sif {plan.name}.def  (from this folder, "
                                    f"Apptainer >= 1.2; {proxy})")
    builder = _stage_def(parsed, "builder", options, [])
    runtime = _stage_def(parsed, "runtime", options, _runtime_sections(parsed, plan))
    text = "\n\n".join([header, builder, runtime]) + "\n"
    check_structure(text, [line.strip()[1:] for part in (builder, runtime) for line in part.splitlines()
                           if line.startswith("%")])
    return text


def definition_text(plan: Plan, options: DefOptions) -> str:
    return definition(plan, render(plan, RenderOptions(cache_mounts=False)), options)  # no cache mounts here


def write_definition(plan: Plan, output: Path, options: DefOptions, context_dir: Path | None = None,
                     ca_cert: Path | None = None) -> list[Path]:
    """Write the .def (and, from the base, the build context it copies from); returns the paths written.
    The definition is made and every output path checked before the first file is written."""
    rendered = render(plan, RenderOptions(cache_mounts=False))  # Apptainer has no cache mounts
    extra: dict[str, str] = {}
    folder = context_dir or output.parent / f"{output.stem}-context"
    if options.from_image is None:
        if ca_cert is not None:
            try:
                extra["ca.pem"] = ca_cert.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
                raise InputError(f"--ca-cert {ca_cert}: cannot read it: {reason or exc}") from None
        relative = Path(os.path.relpath(folder.resolve(), output.parent.resolve())).as_posix()
        options = replace(options, context=relative, ca_cert=ca_cert is not None)
    text = definition(plan, rendered, options)
    check_file_output(output, "-o")
    if options.from_image is not None:
        write_file(output, text, "-o")
        return [output]
    OwnedFolder(folder, "--context").check(rendered.paths(extra))
    rendered.write(folder, "--context", extra=extra)
    write_file(output, text, "-o")
    return [output, folder]
