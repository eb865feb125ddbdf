"""`dockyard build`: spec -> plan -> context -> engine build -> report (-> verify, in the CLI).

`prepare_build` makes every decision and checks every input before anything runs (so a wrong option
fails fast with exit 2); `run_build` drives the engine, streams its output to a callback and a log
file, and turns a failure into a BuildError that carries the failing step and an explanation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from dockyard import hostsize
from dockyard.engine.backends import Backend, BuildRequest, backend_for
from dockyard.engine.bases import supply_bases
from dockyard.engine.context import Context, fits_variant, prepare, wheel_provides
from dockyard.engine.detect import Engine, detect
from dockyard.engine.maps import Maps, load_maps
from dockyard.engine.progress import Progress, Step
from dockyard.engine.report import BuildReport, make_report
from dockyard.engine.secrets import SecretSet, collect
from dockyard.errors import BuildError, EngineError, InputError
from dockyard.knowledge.loader import Knowledge
from dockyard.render.blocks.common import PIP_INDEX, RenderOptions
from dockyard.render.blocks.torch import index_arg
from dockyard.render.renderer import Rendered, render
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
from dockyard.spec.references import git_ref, shown
from dockyard.spec.secrets import looks_secret, secret_in_value

if TYPE_CHECKING:
    from dockyard.verify.run import VerifyReport

LineCallback = Callable[[str, Step | None], None]


@dataclass(frozen=True)
class BuildOptions:
    backend: str = "auto"
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    push: bool = False
    platform: str = ""
    build_args: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    ca_cert: str | None = None
    wheelhouse: Path | None = None
    base_map: tuple[str, ...] = ()
    index_map: tuple[str, ...] = ()
    context_dir: Path | None = None
    log_path: Path | None = None
    builder: str = ""
    max_jobs: int | None = None
    sbom: bool = True  # write a CycloneDX SBOM of the image's Python packages next to the build log
    lock: Path | None = None  # install exactly this lock (else the spec's `lock` key, if any)


@dataclass
class Prepared:
    plan: Plan
    engine: Engine
    backend: Backend
    rendered: Rendered
    maps: Maps
    secrets: SecretSet
    build_args: dict[str, str]
    tags: tuple[str, ...]
    options: BuildOptions
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class BuildFailed(BuildError):
    """A build that ran and failed; `explanation` is dockyard.diagnose.explain's reading of the log."""

    def __init__(self, message: str, hint: str | None, log_path: str, explanation: Any) -> None:
        super().__init__(message, hint, log_path)
        self.explanation = explanation


def host_max_jobs() -> int:
    from dockyard.diagnose.host import Host, memory_and_cores

    memory, _, cores = memory_and_cores(Host())
    return hostsize.max_jobs(memory, cores)


def default_tags(plan: Plan) -> tuple[str, ...]:
    """`dockyard/NAME:latest` and `dockyard/NAME:<12 hex>`: of the spec's digest, and for a serve image
    with a `path:` model of the model's files too (names, sizes, contents), so an edited model is a new tag."""
    digest = plan.digest.split(":", 1)[1]
    model = plan.serve.model.path if plan.serve is not None else None
    if model is not None:
        from dockyard.render.modelfiles import model_digest

        digest = hashlib.sha256(f"{digest}\n{model_digest(model)}".encode()).hexdigest()
    return (f"dockyard/{plan.name}:latest", f"dockyard/{plan.name}:{digest[:12]}")


def default_log_path(name: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dockyard" / "logs"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return base / f"{name}-{stamp}.log"


VERSION_VALUE = re.compile(r"^[A-Za-z0-9_.+!-]*$")  # a version ARG: PEP 440 characters only


def _parse_build_args(items: tuple[str, ...], known: dict[str, str], warnings: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--build-arg {shown(item)} is not KEY=VALUE")
        if looks_secret(key) or secret_in_value(value):
            raise InputError(f"--build-arg {key}: build arguments are stored in the image's history, and this one "
                             "holds a secret",
                             f"pass it as a build secret instead: --secret id={key.lower()},env={key}")
        if key.endswith("_REF"):  # a ref lands in a download URL: `../` there would change the source
            git_ref(value, f"--build-arg {key}")
        elif key.endswith("_VERSION") and not VERSION_VALUE.match(value):
            raise InputError(f"--build-arg {key}: {shown(value)} is not a version", "write e.g. 2.13.0")
        if key not in known:
            warnings.append(f"--build-arg {key}: the Dockerfile declares no such ARG (it has "
                            f"{', '.join(sorted(known))}); it has no effect")
        result[key] = value
    return result


def _mapped_args(plan: Plan, rendered: Rendered, maps: Maps, wheels: list[str], warnings: list[str],
                 notes: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for arg in ("BASE_IMAGE", "BUILDER_IMAGE"):
        if arg in rendered.build_args:
            mapped = maps.base_image(rendered.build_args[arg])
            if mapped != rendered.build_args[arg]:
                args[arg] = mapped
                notes.append(f"{arg} {rendered.build_args[arg]} -> {mapped} (base map)")
    pip_index = maps.index_url(PIP_INDEX)
    if pip_index != PIP_INDEX:
        args["PIP_INDEX_URL"] = pip_index
        notes.append(f"PyPI -> {pip_index} (index map)")
    torch = plan.torch
    if torch.index_url:
        mapped = maps.index_url(torch.index_url)
        if mapped != torch.index_url:
            args["TORCH_INDEX_URL"] = mapped
            notes.append(f"torch index {torch.index_url} -> {mapped} (index map)")
            _warn_pypi_variant(plan, mapped, wheels, warnings)
    for companion in torch.companions:
        if companion.index_url and maps.index_url(companion.index_url) != companion.index_url:
            args[index_arg(companion.name)] = maps.index_url(companion.index_url)
            notes.append(f"{companion.name} index {companion.index_url} -> {args[index_arg(companion.name)]} "
                         "(index map)")
    return args


def _warn_pypi_variant(plan: Plan, index: str, wheels: list[str], warnings: list[str]) -> None:
    """PyPI serves one CUDA build of each torch release: say so when it is not the planned variant."""
    torch = plan.torch
    if "pypi.org" not in index or torch.version is None:
        return
    if wheel_provides(wheels, "torch", torch.version):
        return
    release = Knowledge.load().torch_release(Version(torch.version))
    if release and release.pypi_default != torch.variant:
        warnings.append(f"PyPI serves the {release.pypi_default} build of torch {torch.version}, not {torch.variant}; "
                        "without a matching wheel in --wheelhouse the image gets the wrong variant "
                        "(verify will report it)")


def _check_capabilities(engine: Engine) -> RenderOptions:
    missing = engine.capabilities.missing(["secret_mounts", "bind_mounts"])
    if missing:
        raise EngineError(
            f"{engine.describe()}: no {' or '.join(m.replace('_', ' ') for m in missing)}, which dockyard's "
            "Dockerfiles need (secrets never go into layers; scripts are bind-mounted, not copied)",
            "use a docker client with BuildKit (buildx, or the distribution's docker.io client before 23.0 with "
            "DOCKER_BUILDKIT=1), or --backend podman",
        )
    caps = engine.capabilities
    return RenderOptions(cache_mounts=caps.cache_mounts, cache_sharing="locked" if caps.locked_cache else "shared")


def prepare_build(ref: str, options: BuildOptions, engine: Engine | None = None) -> Prepared:
    plan = resolve(load(ref))
    engine = engine or detect(options.backend)
    render_options = _check_capabilities(engine)
    if options.push and not engine.capabilities.push:
        raise EngineError(f"{engine.describe()} cannot push")
    jobs = options.max_jobs or host_max_jobs()
    plan = replace(plan, max_jobs=jobs)
    if options.lock is not None:
        render_options = replace(render_options, lock=read_lock(options.lock))
    rendered = render(plan, render_options)
    maps = load_maps(options.base_map, options.index_map)
    warnings = list(plan.warnings)
    notes = list(plan.notes)
    secrets = collect(options.secrets, options.ca_cert)
    try:
        wheels = sorted(p.name for p in options.wheelhouse.glob("*.whl")
                        if fits_variant(p.name, plan.torch.variant)) if options.wheelhouse else []
        args = _mapped_args(plan, rendered, maps, wheels, warnings, notes)
        args.update(_parse_build_args(options.build_args, rendered.build_args, warnings))
        bases = [args.get(a, rendered.build_args[a]) for a in ("BASE_IMAGE", "BUILDER_IMAGE")
                 if a in rendered.build_args]
        notes += [copied.note() for copied in supply_bases(bases, engine)]  # an engine's first use of a base
    except BaseException:
        secrets.cleanup()
        raise
    tags = options.tags or default_tags(plan)
    backend = backend_for(engine)
    from dockyard.supply.lock import base_drift

    warnings += base_drift(plan, maps, backend.inspect)
    return Prepared(plan, engine, backend, rendered, maps, secrets, args, tags, options, warnings, notes)


def read_lock(path: Path) -> Any:
    from dockyard.render.lockfile import parse

    try:
        return parse(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise InputError(f"--lock {path}: cannot read it: {exc.strerror or exc}",
                         "make one with `dockyard lock SPEC -o FILE`") from None


def expectations(prepared: Prepared) -> dict[str, Any]:
    """What the probes check: the plan.json written into the context (with a lock, every locked version)."""
    data: dict[str, Any] = json.loads(prepared.rendered.files["dockyard/plan.json"])
    return data


BASE_LABEL = "org.opencontainers.image.base.name"
PUBLIC_BASE_LABEL = "dev.dockyard.base.public-name"


def site_labels(prepared: Prepared) -> tuple[tuple[str, str], ...]:
    """When the site maps the final stage's base, the image's base label names the image really built on
    and a second label keeps the public name the Dockerfile gives."""
    public = prepared.rendered.build_args.get("BASE_IMAGE", "")
    used = prepared.build_args.get("BASE_IMAGE", public)
    return ((BASE_LABEL, used), (PUBLIC_BASE_LABEL, public)) if used != public else ()


def verify_build(backend: Backend, image: str, expect: dict[str, Any] | None, secrets: SecretSet,
                 gpu: bool = False) -> VerifyReport:
    """The probes inside the image (verify/run.py), then the secret-value probe over the saved image
    (supply/leaks.py): the values of this build's secrets and the token-shaped values of dockyard's own
    environment must be in none of its files. Its result is one more row of the report."""
    from dockyard.supply.leaks import leak_check, leak_needles, with_leak_check
    from dockyard.verify.run import verify_image

    report = verify_image(backend, image, expect, gpu=gpu)
    return with_leak_check(report, leak_check(backend, image, leak_needles(secrets.named, os.environ)))


def missing_bases(prepared: Prepared) -> list[str]:
    images = [prepared.build_args.get(a, prepared.rendered.build_args[a])
              for a in ("BASE_IMAGE", "BUILDER_IMAGE") if a in prepared.rendered.build_args]
    return [image for image in dict.fromkeys(images) if prepared.backend.inspect(image) is None]


def run_build(prepared: Prepared, on_line: LineCallback | None = None) -> BuildReport:
    options = prepared.options
    log_path = options.log_path or default_log_path(prepared.plan.name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    context: Context | None = None
    try:
        context = prepare(prepared.rendered, options.context_dir, options.wheelhouse, prepared.plan.torch.variant)
        iidfile = Path(tempfile.mkstemp(prefix="dockyard-iid-")[1])
        request = BuildRequest(context.path, prepared.tags, prepared.build_args, tuple(prepared.secrets.secrets),
                               options.no_cache, options.platform, options.push, iidfile, options.builder,
                               site_labels(prepared))
        argv = prepared.backend.build_argv(request)
        progress = Progress()
        started = time.monotonic()
        code = _stream(argv, prepared.backend.build_env(), log_path, prepared.secrets, progress, on_line)
        progress.finish(code == 0)
        seconds = time.monotonic() - started
        if code != 0:
            _fail(prepared, log_path, progress)
        image = iidfile.read_text().strip() or prepared.tags[0]
        iidfile.unlink()
        cached, total = progress.cache_hits()
        report = make_report(prepared.backend, prepared.plan.name, image, list(prepared.tags), cached, total,
                             seconds, str(log_path), "" if context.temporary else str(context.path))
        report.warnings = prepared.warnings
        if options.sbom and not (options.push and prepared.engine.mode == "buildx"):
            from dockyard.supply.sbom import beside_log

            report.sbom, why_not = beside_log(prepared.backend, image, log_path)
            report.warnings += [why_not] if why_not else []
        if options.push and prepared.engine.mode != "buildx":
            for tag in prepared.tags:
                pushed = _stream(prepared.backend.push_argv(tag), {}, log_path, prepared.secrets, Progress(), None,
                                 append=True)
                if pushed != 0:
                    raise BuildError(f"pushing {tag} failed", "check the registry name and `docker login`",
                                     str(log_path))
        return report
    finally:
        prepared.secrets.cleanup()
        if context is not None:
            context.cleanup()


def _stream(argv: list[str], env: dict[str, str], log_path: Path, secrets: SecretSet, progress: Progress,
            on_line: LineCallback | None, append: bool = False) -> int:
    full_env = {**os.environ, **env}
    with log_path.open("a" if append else "w", encoding="utf-8") as log:
        log.write(f"$ {secrets.scrub(' '.join(argv))}\n")
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True,
                                       encoding="utf-8", errors="replace", env=full_env, bufsize=1)
        except FileNotFoundError as exc:
            raise EngineError(f"cannot run {argv[0]}: {exc}") from None
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = secrets.scrub(raw.rstrip("\n"))
                log.write(line + "\n")
                step = progress.feed(line)
                if on_line is not None:
                    on_line(line, step)
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=30)
            raise
        return process.wait()


# What to do about a known failure with dockyard's own options (explain's fixes speak of plain docker).
BUILD_FIXES = {
    "tls-certificate": "hand the proxy's or company's CA bundle to the build: dockyard build --ca-cert FILE "
                       "(e.g. \"$PIP_CERT\"), or set ca-cert in the [build] table of the dockyard config",
    "secret-missing": "pass the secret: dockyard build --secret id=NAME,src=FILE (or env=VAR)",
    "image-pull-unreachable": "no registry here: map the base to a local image with --base-map FROM=LOCAL, or make "
                              "one with `dockyard base bootstrap NAME:TAG --with-python`",
    "image-not-found": "check the tag, or map the base to a local image with --base-map FROM=LOCAL",
    "compiler-oom": "lower the parallel compile jobs: dockyard build --max-jobs 1 (the default comes from memory)",
    "buildkit-feature": "use an engine with BuildKit: `dockyard doctor` lists what each client on this machine can do",
}


def _fail(prepared: Prepared, log_path: Path, progress: Progress) -> None:
    from dockyard.diagnose.explain import explain_log

    text = log_path.read_text(encoding="utf-8", errors="replace")
    explanation = explain_log(text)
    step = progress.failed()
    where = f"step {step.label}" if step else "the build"
    cause = explanation.matches[0].title if explanation.known else "an unknown failure"
    if explanation.known:
        hint = BUILD_FIXES.get(explanation.matches[0].id, explanation.matches[0].fix)
    else:
        hint = "read the failing step's last lines above and the log"
    raise BuildFailed(f"{prepared.plan.name}: {where} failed: {cause}", hint, str(log_path), explanation)
