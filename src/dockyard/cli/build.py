"""build, verify, base bootstrap: the commands that drive a real engine."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dockyard.cli.output import (
    escape,
    no_controls,
    print_json,
    print_note,
    print_warning,
    stderr,
    stdout,
    view_mode,
)
from dockyard.cli.probes import probe_listing
from dockyard.cli.tables import Column, Listing, cut, show
from dockyard.engine.detect import BACKENDS, detect
from dockyard.engine.maps import site_default
from dockyard.engine.progress import Step
from dockyard.engine.report import BuildReport, human_size, without_mounts
from dockyard.engine.secrets import SecretSet
from dockyard.errors import InputError, VerifyError
from dockyard.pipeline import (
    BuildFailed,
    BuildOptions,
    expectations,
    missing_bases,
    prepare_build,
    run_build,
    verify_build,
)
from dockyard.verify.run import VerifyReport

SPEC_HELP = "a spec file (TOML) or a preset name (`dockyard presets` lists them)"
STATUS = {"running": "[yellow]…[/]", "done": "[green]✓[/]", "cached": "[cyan]cached[/]", "error": "[red]✗[/]"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "build", help="build an image with a real engine, then verify it",
        description="Render the spec, prepare the build context, build with docker (BuildKit) or podman, report "
                    "sizes and cache hits, and run dockyard's probes inside the image. The full engine log is "
                    "saved; on failure dockyard shows the failing step, its last lines and an explanation.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="engine (default: docker with BuildKit, "
                   "else podman)")
    p.add_argument("-t", "--tag", action="append", default=[], help="image tag (repeatable; default "
                   "dockyard/NAME:latest and dockyard/NAME:<spec digest>)")
    p.add_argument("--no-cache", action="store_true", help="do not use the engine's layer cache")
    p.add_argument("--push", action="store_true", help="push the tags after building (with --registry: push "
                   "REGISTRY/NAME:<spec digest> after the probes pass and record its digest, as `dockyard push`)")
    p.add_argument("--registry", help="with --push: the registry to push to, e.g. ghcr.io/acme")
    p.add_argument("--platform", default="", help="target platform, e.g. linux/amd64")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="override an ARG")
    p.add_argument("--secret", action="append", default=[], metavar="id=NAME,src=FILE|env=VAR",
                   help="a build secret (never stored in a layer); id=netrc is used for package index logins")
    p.add_argument("--ca-cert", metavar="FILE", help="CA bundle (PEM) of a TLS-intercepting proxy or a company CA, "
                   "handed to pip, uv, curl and git as a secret (default: $DOCKYARD_CA_CERT, config [build])")
    p.add_argument("--wheelhouse", type=Path, metavar="DIR", help="local wheels tried before any index "
                   "(default: $DOCKYARD_WHEELHOUSE, config [build])")
    p.add_argument("--base-map", action="append", default=[], metavar="FROM=TO",
                   help="use TO instead of the base image FROM (glob or registry prefix; also "
                        "$DOCKYARD_BASE_MAP and [base-map] in ~/.config/dockyard/config.toml)")
    p.add_argument("--index-map", action="append", default=[], metavar="URL=URL",
                   help="use a package index mirror (also $DOCKYARD_INDEX_MAP and [index-map] in the config)")
    p.add_argument("--context-dir", type=Path, help="prepare the build context here and keep it "
                   "(default: a temporary directory, removed afterwards)")
    p.add_argument("--log", type=Path, help="engine log file (default: ~/.cache/dockyard/logs/NAME-TIME.log)")
    p.add_argument("--builder", default="", help="buildx builder (e.g. a remote or kubernetes driver)")
    p.add_argument("--max-jobs", type=int, help="MAX_JOBS for compiled add-ons (default: from host memory)")
    p.add_argument("--progress", choices=("auto", "live", "plain"), default="auto",
                   help="live view, or one line per step for CI logs (auto: live on a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    p.add_argument("--lock", type=Path, metavar="FILE", help="install exactly this lock (`dockyard lock`), "
                   "hash-checked; default: the spec's lock key, if any")
    p.add_argument("--no-sbom", action="store_true", help="do not write a CycloneDX SBOM next to the build log")
    p.add_argument("--no-verify", action="store_true", help="skip the probes after the build")
    p.add_argument("--gpus", action="store_true", help="verify with the host's accelerator passed through")
    p.add_argument("--json", action="store_true", help="print the build report as JSON")
    p.set_defaults(func=cmd_build)

    p = subparsers.add_parser(
        "verify", help="run dockyard's probes inside an image, or in this Python environment (--host)",
        description="Run the probes inside IMAGE as its own user: Python and package versions, imports, "
                    "dependency consistency, the torch build and compiled archs, a tiny model's forward and "
                    "generate, modality tools, non-root user, no secrets left, target env. Runtime and serve "
                    "images run on a read-only root filesystem; a serve image with its model baked in also "
                    "starts its server there and checks /health, /v1/models and one chat completion. With "
                    "--host, run the same probes in the Python that runs dockyard (a host, a GPU or TPU VM, a "
                    "running container), always with the GPU probes: devices, compiled archs against each "
                    "device's capability, the driver against the CUDA minimum, bf16, NCCL/RCCL, a matmul and "
                    "the tiny model on the device. Without --spec or --plan, --host reports what is installed "
                    "and compares nothing.")
    p.add_argument("image", nargs="?", help="image name or id (not with --host)")
    p.add_argument("--host", action="store_true", help="probe this Python environment instead of an image")
    p.add_argument("--spec", help="check against this spec or preset (default: the plan stored in the image; "
                   "with --host: report mode)")
    p.add_argument("--plan", metavar="PLAN_JSON", help="with --host: check against this plan.json (e.g. "
                   "/opt/dockyard/plan.json inside a dockyard image)")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--gpus", action="store_true", help="pass the host's accelerator through and check it computes")
    p.add_argument("--json", action="store_true", help="machine-readable results")
    p.set_defaults(func=cmd_verify)

    base = subparsers.add_parser("base", help="base images without a registry",
                                 description="Make base images locally, for air-gapped sites.")
    base_sub = base.add_subparsers(dest="base_command", metavar="COMMAND")
    p = base_sub.add_parser("bootstrap", help="debootstrap a Debian base and import it into the engine",
                            description="Build a Debian base image with debootstrap (minbase) and import it. "
                                        "With --with-python it carries Debian's python3 and venv and can stand in "
                                        "for python:X.Y-slim-<suite> through --base-map. When the machine's other "
                                        "engine (docker or podman) already holds IMAGE, it is copied from there "
                                        "instead (seconds, not a minute), unless --fresh.")
    p.add_argument("image", help="NAME:TAG to create, e.g. dockyard/bookworm-python:3.11")
    p.add_argument("--suite", default="bookworm", help="Debian suite (bookworm: Python 3.11, trixie: 3.13)")
    p.add_argument("--with-python", action="store_true", help="include python3 and python3-venv")
    p.add_argument("--mirror", help="Debian mirror (default: the one apt's sources name)")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--fresh", action="store_true", help="debootstrap even when the other engine holds IMAGE")
    p.set_defaults(func=cmd_bootstrap)
    base.set_defaults(func=lambda args: (base.print_help(), 2)[1])


class StepView:
    """Live table of steps on a terminal, or one line per step change for logs."""

    def __init__(self, mode: str, quiet: bool, title: str) -> None:
        self.mode = view_mode(mode)
        self.quiet = quiet
        self.title = title
        self.started = time.monotonic()
        self.steps: dict[str, Step] = {}
        self.printed: dict[str, str] = {}
        self.live: Live | None = None

    def __enter__(self) -> StepView:
        if self.mode == "live" and not self.quiet:
            self.live = Live(self._render(), console=stderr, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)

    def on_line(self, line: str, step: Step | None) -> None:
        if step is None or self.quiet:
            return
        self.steps[step.key] = step
        if self.live is not None:
            self.live.update(self._render())
            return
        if not step.counts and not step.label.startswith("["):
            return
        # A step is announced when it first prints output (cached steps never do) and when it ends.
        if step.status == "running" and not step.last_line:
            return
        if self.printed.get(step.key) != step.status:
            self.printed[step.key] = step.status
            elapsed = time.monotonic() - self.started
            suffix = f" ({step.seconds:.1f}s)" if step.status in ("done", "error") else ""
            head = f"[{elapsed:6.1f}s] {step.status:7} "
            room = max(40, stderr.width - len(head) - len(suffix))  # one line per change: cut at a word
            label = cut(Text(no_controls(without_mounts(step.label))), room).plain
            stderr.print(f"{escape(head)}{escape(label)}{suffix}", highlight=False)

    def _render(self) -> Group:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("", width=6)
        table.add_column("step", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_column("time", justify="right", width=8)
        visible = [s for s in self.steps.values() if s.counts or s.label.startswith("[")][-14:]
        now = time.monotonic()
        for step in visible:
            seconds = step.seconds if step.status != "running" else now - step.started
            table.add_row(STATUS[step.status], escape(without_mounts(step.label)), f"{seconds:.1f}s")
        current = next((s for s in reversed(visible) if s.status == "running"), None)
        footer = Text(f"{self.title}  {now - self.started:.0f}s", style="dim")
        if current and current.last_line:
            footer.append(f"  {current.last_line[:120]}", style="dim")
        return Group(table, footer)


def cmd_build(args: argparse.Namespace) -> int:
    if args.registry and not args.push:
        raise InputError("--registry goes with --push", "add --push (or push later: dockyard push SPEC --registry "
                         "REGISTRY)")
    if args.registry:
        from dockyard.spec.references import registry

        registry(args.registry, "--registry")
    wheelhouse = args.wheelhouse or (Path(w) if (w := site_default("wheelhouse")) else None)
    options = BuildOptions(
        backend=args.backend, tags=tuple(args.tag), no_cache=args.no_cache, push=args.push and not args.registry,
        platform=args.platform,
        build_args=tuple(args.build_arg), secrets=tuple(args.secret), ca_cert=args.ca_cert or site_default("ca-cert"),
        wheelhouse=wheelhouse, base_map=tuple(args.base_map), index_map=tuple(args.index_map),
        context_dir=args.context_dir, log_path=args.log, builder=args.builder, max_jobs=args.max_jobs,
        sbom=not args.no_sbom, lock=args.lock,
    )
    prepared = prepare_build(args.spec, options)
    if not args.quiet:
        stderr.print(f"[bold]{escape(prepared.plan.name)}[/]: {escape(prepared.engine.describe())}")
        for note in prepared.notes:
            print_note(note)
    for warning in prepared.warnings:
        print_warning(warning)
    for image in missing_bases(prepared):
        print_warning(f"base image {image} is not in the local {prepared.engine.kind} store; the engine will try to "
                      "pull it (without a registry: --base-map FROM=LOCAL, or `dockyard base bootstrap`)")
    try:
        with StepView(args.progress, args.quiet or args.json, prepared.plan.name) as view:
            report = run_build(prepared, view.on_line)
    except BuildFailed as exc:
        from dockyard.cli.diagnose import print_explanation

        print_explanation(exc.explanation, stderr, exc.log_path)
        raise
    verify: VerifyReport | None = None
    if not args.no_verify and not options.push:
        verify = verify_build(prepared.backend, report.image_id, expectations(prepared), prepared.secrets, args.gpus)
        report.verify = verify.to_json()
    if args.json:
        print_json(report.to_json())
    else:
        print_report(report, args.quiet)
        if verify is not None:
            print_verify(verify, args.quiet)
    if verify is not None and not verify.ok:
        raise VerifyError(f"{len(verify.failures())} probe(s) failed in {report.tags[0]}",
                          "see the table above; `dockyard verify IMAGE --json` gives details")
    if args.registry:
        from dockyard.cli.push import publish
        from dockyard.deploy.model import dns_label

        digest_tag = prepared.plan.digest.split(":", 1)[1][:12]
        reference, _ = publish(prepared.engine, report.image_id, dns_label(prepared.plan.name), digest_tag,
                               args.registry)
        stdout.print(f"[bold green]pushed[/] {escape(reference)}")
    return 0


def print_report(report: BuildReport, quiet: bool) -> None:
    summary = (f"{report.tags[0]}  {human_size(report.size)}  built in {report.wall_seconds:.0f}s  "
               f"cache {report.cached_steps}/{report.total_steps} steps  id {report.image_id[:19]}")
    stdout.print(f"[bold green]built[/] {escape(summary)}")
    if not quiet:
        layers = Listing((Column("size", justify="right", key=True), Column("instruction", cut=True)),
                         title="layers")
        for layer in report.layers:
            if layer.size:
                layers.add(human_size(layer.size), layer.instruction or "(base image)")
        show(layers, stdout)
    stdout.print(f"log: {escape(report.log_path)}")
    if report.sbom:
        stdout.print(f"sbom: {escape(report.sbom)}")


def print_verify(report: VerifyReport, quiet: bool) -> None:
    failures = report.failures()
    mode = " (read-only root filesystem)" if report.read_only else ""
    if not quiet or failures:
        show(probe_listing(f"probes in {report.image[:30]}{mode}", report.results if not quiet else failures), stdout)
    passed = len(report.results) - len(failures)
    colour = "green" if not failures else "red"
    stdout.print(f"[bold {colour}]verify[/] {passed}/{len(report.results)} probes passed{escape(mode)}")


def cmd_verify(args: argparse.Namespace) -> int:
    from dockyard.cli.verify_host import cmd_verify_host, verify_arguments
    from dockyard.engine.backends import backend_for
    from dockyard.render.renderer import expectations as rendered_expectations
    from dockyard.render.renderer import plan_lock
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load

    verify_arguments(args)
    expect = None
    if args.spec:
        plan = resolve(load(args.spec))
        expect = rendered_expectations(plan, plan_lock(plan, None))
    if args.host:
        return cmd_verify_host(args, expect)
    backend = backend_for(detect(args.backend))
    report = verify_build(backend, args.image, expect, SecretSet(), args.gpus)  # the environment's tokens
    if args.json:
        print_json(report.to_json())
    else:
        print_verify(report, quiet=False)
    if not report.ok:
        raise VerifyError(f"{len(report.failures())} probe(s) failed in {args.image}",
                          "each failed probe shows what was expected and what the image has")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from dockyard.engine.bootstrap import bootstrap

    engine = detect(args.backend)
    if not args.fresh:
        from dockyard.engine.bases import supply_bases

        for copied in supply_bases([args.image], engine):
            stdout.print(f"[bold green]copied[/] {escape(copied.image)} from {copied.source} into {copied.target} "
                         f"({copied.seconds:.0f}s; --fresh to debootstrap it instead)")
            return 0
    result = bootstrap(args.image, args.suite, engine, args.with_python, args.mirror,
                       say=lambda message: stderr.print(f"[dim]{escape(message)}[/]"))
    python = f", Python {result.python}" if result.python else ""
    stdout.print(f"[bold green]bootstrapped[/] {escape(result.image)} ({result.suite}{python}, "
                 f"{human_size(result.size)}, {result.seconds:.0f}s) in {engine.kind}")
    if result.python:
        stdout.print(f"use it for the official python image: --base-map python:{result.python}-slim-{result.suite}="
                     f"{escape(result.image)}")
    return 0
