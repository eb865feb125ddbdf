"""matrix, bake, ci, apptainer: many images, on this machine or handed to BuildKit, CI and HPC sites."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table
from rich.text import Text

from dockyard.cli.output import escape, no_controls, print_json, print_note, stderr, stdout, view_mode
from dockyard.cli.tables import Column, Listing, show
from dockyard.engine.detect import BACKENDS, detect
from dockyard.engine.maps import Maps, parse_rule, site_default
from dockyard.engine.progress import Step
from dockyard.engine.report import human_size, without_mounts
from dockyard.errors import BuildError, InputError
from dockyard.pipeline import BuildOptions
from dockyard.render.owned import write_file
from dockyard.scale.matrix import (
    FINAL,
    EngineBuilder,
    ImageRun,
    Matrix,
    MatrixOptions,
    MatrixReport,
    check_builder,
    plan_runs,
)
from dockyard.scale.schedule import host_budget
from dockyard.scale.select import select
from dockyard.scale.state import DEFAULT_PATH, State

NAMES_HELP = "presets or spec files (TOML); --all for every preset"
COLOURS = {"queued": "dim", "building": "yellow", "verifying": "cyan", "pushing": "blue", "done": "green",
           "skipped": "green", "failed": "red", "cancelled": "red"}


def _names(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help=NAMES_HELP)
    p.add_argument("--all", action="store_true", help="every preset")


def _command(name: str, args: argparse.Namespace) -> str:
    return " ".join(["dockyard", name, *(["--all"] if args.all else args.names)])


def register(subparsers: Any) -> None:
    matrix = subparsers.add_parser("matrix", help="build many images on this engine, resumable",
                                   description="Build many images side by side on one engine, as many at once as "
                                               "memory and cores allow, verify each, and keep a state file so "
                                               "--resume rebuilds only what is not built and verified yet.")
    sub = matrix.add_subparsers(dest="matrix_command", metavar="COMMAND")
    p = sub.add_parser("build", help="build and verify several images",
                       description="Images that compile run alone with the whole MAX_JOBS budget; the others run "
                                   "up to --jobs at a time (default: from the host). A failure does not stop the "
                                   "others (--fail-fast does). docs/scaling.md explains the rule.")
    _names(p)
    p.add_argument("--jobs", type=int, help="image builds at once when none compiles (default: from the host)")
    p.add_argument("--max-jobs", type=int, help="MAX_JOBS of a compiling image (default: from host memory)")
    p.add_argument("--resume", action="store_true", help="skip images whose spec digest was built and verified")
    going = p.add_mutually_exclusive_group()
    going.add_argument("--keep-going", action="store_true", help="build the others after a failure (the default)")
    going.add_argument("--fail-fast", action="store_true", help="start no new image after the first failure")
    p.add_argument("--state", type=Path, default=DEFAULT_PATH, help=f"state file (default: {DEFAULT_PATH})")
    p.add_argument("--dry-run", action="store_true", help="show the images, the schedule and what --resume skips")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--builder", default="", help="buildx builder: a remote or kubernetes driver (DOCKER_HOST also "
                   "works, for a remote daemon)")
    p.add_argument("--no-cache", action="store_true", help="do not use the engine's layer cache")
    p.add_argument("--secret", action="append", default=[], metavar="id=NAME,src=FILE|env=VAR")
    p.add_argument("--ca-cert", metavar="FILE", help="CA bundle for a TLS-intercepting proxy (default: site config)")
    p.add_argument("--wheelhouse", type=Path, metavar="DIR", help="local wheels (default: site config)")
    p.add_argument("--base-map", action="append", default=[], metavar="FROM=TO")
    p.add_argument("--index-map", action="append", default=[], metavar="URL=URL")
    p.add_argument("--no-verify", action="store_true", help="skip the probes (then nothing counts as verified)")
    p.add_argument("--repository", default="dockyard", help="tags REPOSITORY/NAME:latest and :<spec digest> "
                   "(e.g. ghcr.io/acme with --push)")
    p.add_argument("--push", action="store_true", help="push each image after its probes pass")
    p.add_argument("--gpus", action="store_true", help="verify with the host's accelerator")
    p.add_argument("--progress", choices=("auto", "live", "plain"), default="auto")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_matrix_build)
    p = sub.add_parser("status", help="what the state file records", description="Show the matrix state file.")
    p.add_argument("--state", type=Path, default=DEFAULT_PATH)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_matrix_status)
    matrix.set_defaults(func=lambda args: (matrix.print_help(), 2)[1])

    p = subparsers.add_parser("bake", help="write a docker-bake.hcl (and the build contexts) for BuildKit",
                              description="One bake target per image, version variables, shared base stages "
                                          "through target contexts, registry/gha cache, version and commit tags, "
                                          "SBOM and provenance, and a `check` group. Each image's context is "
                                          "rendered into its own folder.")
    _names(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="the bake file, e.g. docker-bake.hcl")
    p.add_argument("--context-root", type=Path, help="folder for the contexts (default: dockyard-contexts/ beside "
                   "the bake file)")
    p.add_argument("--registry", default="dockyard", help="default of the REGISTRY variable (tags REGISTRY/NAME)")
    p.add_argument("--run", action="store_true", help="then run `docker buildx bake` (needs buildx)")
    p.add_argument("--builder", default="", help="with --run: the buildx builder (remote, kubernetes)")
    p.add_argument("--push", action="store_true", help="with --run: push the images")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=cmd_bake)

    ci = subparsers.add_parser("ci", help="write a CI workflow that builds, verifies, then pushes",
                               description="Generate CI configuration for the images.")
    ci_sub = ci.add_subparsers(dest="ci_command", metavar="SYSTEM")
    p = ci_sub.add_parser("github", help="a GitHub Actions workflow",
                          description="A matrix job per image: render, build (GitHub cache), run dockyard's probes, "
                                      "and only then push (never from a pull request). Actions pinned by commit "
                                      "SHA, least-privilege permissions, schedule + manual dispatch + path "
                                      "filters, a concurrency group, the transformers commit resolved once.")
    _names(p)
    p.add_argument("-o", "--output", type=Path, help="workflow file (default: print it)")
    p.add_argument("--registry", default="", help="push here, e.g. ghcr.io/ORG (default: build and verify only)")
    p.add_argument("--runner", default="ubuntu-24.04", help="runs-on label")
    p.add_argument("--install", default="", metavar="REQUIREMENT",
                   help="how the runner installs dockyard (default: dockyard==<this version>)")
    p.add_argument("--action-pin", action="append", default=[], metavar="OWNER/REPO=SHA[#VERSION]",
                   help="replace a pinned action's commit (full SHA)")
    p.add_argument("--cron", default="17 3 * * 1", help="schedule (cron, UTC)")
    p.add_argument("--branch", default="main", help="branch whose pushes build and push")
    p.add_argument("--transformers-ref", default="main", help="default transformers branch/tag for git-ref images")
    p.set_defaults(func=cmd_ci_github)
    ci.set_defaults(func=lambda args: (ci.print_help(), 2)[1])

    p = subparsers.add_parser("apptainer", help="write an Apptainer/Singularity definition",
                              description="From the built image (--from-image) or from the base image with the "
                                          "same steps; same environment and runscript, %%test runs the probe.")
    p.add_argument("spec", help="a spec file or a preset")
    p.add_argument("-o", "--output", type=Path, help="the .def file (default with --from-image: print it)")
    p.add_argument("--from-image", nargs="?", const="", default=None, metavar="IMAGE",
                   help="bootstrap from the built image (default image: dockyard/NAME:latest)")
    p.add_argument("--bootstrap", choices=("docker-daemon", "docker"), default="docker-daemon",
                   help="with --from-image: the local docker daemon or a registry")
    p.add_argument("--context", type=Path, help="folder for the files %%files copies (default: NAME-context/)")
    p.add_argument("--ca-cert", type=Path, metavar="FILE", help="CA bundle staged for %%post and removed after")
    p.add_argument("--base-map", action="append", default=[], metavar="FROM=TO",
                   help="use another base image (only these; the site config is this machine's, not the HPC site's)")
    p.set_defaults(func=cmd_apptainer)


class MatrixView:
    """One line per image: a live table on a terminal, else a line at each status change."""

    def __init__(self, mode: str, quiet: bool, runs: list[ImageRun]) -> None:
        self.mode = view_mode(mode)
        self.quiet = quiet
        self.runs = runs
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.live: Live | None = None

    def __enter__(self) -> MatrixView:
        if self.mode == "live" and not self.quiet:
            self.live = Live(self.table(), console=stderr, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def on_change(self, run: ImageRun) -> None:
        with self.lock:
            if self.live is not None:
                self.live.update(self.table())
            elif not self.quiet:
                detail = run.error or run.note
                stderr.print(f"[{time.monotonic() - self.started:6.1f}s] {escape(run.name):28} "
                             f"[{COLOURS[run.status]}]{run.status:9}[/] {escape(detail[:140])}", highlight=False)

    def on_line(self, run: ImageRun, line: str, step: Step | None) -> None:
        if self.live is not None and step is not None:
            with self.lock:
                self.live.update(self.table())

    def table(self) -> Table:
        """The live view: every column but the detail keeps its width; the detail is cut."""
        table = Table(header_style="bold", box=None, pad_edge=False)
        widths = {"image": max(len(r.name) for r in self.runs), "status": 9, "time": 5, "size": 8, "cache": 5,
                  "probes": 6}
        for column, width in widths.items():
            table.add_column(column, no_wrap=True, min_width=width,
                             justify="right" if column in ("time", "size") else "left")
        table.add_column("detail", overflow="ellipsis", no_wrap=True)
        for row in self.rows(final=False):
            table.add_row(*row)
        return table

    def listing(self) -> Listing:
        """The final result: a table that fits, or a few `name: value` lines per image."""
        columns = [Column("image", key=True), Column("status", key=True)]
        columns += [Column(c, justify="right" if c in ("time", "size") else "left") for c in
                    ("time", "size", "cache", "probes", "detail")]
        listing = Listing(tuple(columns))
        for row in self.rows(final=True):
            listing.add(*row)
        return listing

    def rows(self, final: bool) -> list[tuple[Text, ...]]:
        now = time.monotonic()
        rows: list[tuple[Text, ...]] = []
        for run in self.runs:
            seconds = run.seconds if run.status in FINAL or not run.started else now - run.started
            detail = run.error or ("" if final else without_mounts(run.step)) or run.note
            rows.append((Text(run.name), Text(run.status, style=COLOURS[run.status]),
                         Text(f"{seconds:.0f}s" if run.started else ""), Text(human_size(run.size) if run.size else ""),
                         Text(run.cache), Text(run.probes), Text(no_controls(detail[:120]))))
        return rows


def _build_options(args: argparse.Namespace) -> BuildOptions:
    wheelhouse = args.wheelhouse or (Path(w) if (w := site_default("wheelhouse")) else None)
    return BuildOptions(backend=args.backend, no_cache=args.no_cache, secrets=tuple(args.secret),
                        ca_cert=args.ca_cert or site_default("ca-cert"), wheelhouse=wheelhouse,
                        base_map=tuple(args.base_map), index_map=tuple(args.index_map), builder=args.builder)


def cmd_matrix_build(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs {args.jobs}: give 1 or more")
    if args.push and args.no_verify:
        raise InputError("--push with --no-verify would push images no probe has checked",
                         "drop --no-verify: each image is pushed after its probes pass")
    selected = select(args.names, args.all)
    budget = host_budget(args.jobs, args.max_jobs)
    options = MatrixOptions(_build_options(args), args.state, args.resume, args.fail_fast, not args.no_verify,
                            args.push, args.gpus, args.repository.rstrip("/"))
    runs = plan_runs(selected)
    if args.dry_run:
        return _dry_run(runs, options, budget.describe())
    engine = detect(args.backend)
    check_builder(engine, args.builder)
    if not args.json:
        stderr.print(f"[bold]{len(runs)} images[/] on {escape(engine.describe())}")
        print_note(budget.describe())
    view = MatrixView(args.progress, args.json, runs)
    matrix = Matrix(runs, options, budget, EngineBuilder(engine), engine.describe(), view.on_change, view.on_line)
    with view:
        report = matrix.run()
    if args.json:
        print_json(report.to_json())
    else:
        _print_report(report, view)
    if report.failed:
        names = ", ".join(r.name for r in report.failed)
        raise BuildError(f"{len(report.failed)} of {len(runs)} images failed: {names}",
                         f"fix them and run again with --resume (--state {args.state}): images already built and "
                         "verified are skipped")
    return 0


def _dry_run(runs: list[ImageRun], options: MatrixOptions, schedule: str) -> int:
    state = State.load(options.state_path)
    table = Listing((Column("image", key=True), Column("compiles"), Column("spec digest"), Column("with --resume"),
                     Column("from")))
    for run in runs:
        entry = state.entries.get(run.digest)
        resume = "skip: verified" if entry and entry.status == "done" else ("build: failed" if entry else "build")
        table.add(run.name, "yes: alone" if run.heavy else "no", run.digest[7:19], resume, run.ref)
    show(table, stdout)
    stdout.print(escape(schedule))
    return 0


def _print_report(report: MatrixReport, view: MatrixView) -> None:
    show(view.listing(), stdout)
    counts: dict[str, int] = {}
    for run in report.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    stdout.print(f"[bold]{len(report.runs)} images[/]: {summary} in {report.seconds:.0f}s "
                 f"(state: {escape(report.state_path)})")
    for run in report.failed:
        stdout.print(f"[red]{escape(run.name)}[/]: {escape(run.error)}")
        if run.hint:
            stdout.print(f"  hint: {escape(run.hint)}")
        if run.log_path:
            stdout.print(f"  log: {escape(run.log_path)}")


def cmd_matrix_status(args: argparse.Namespace) -> int:
    state = State.load(args.state)
    if args.json:
        print_json(state.to_json())
        return 0
    if not state.entries:
        stdout.print(f"no images recorded in {escape(str(args.state))}")
        return 0
    table = Listing((Column("image", key=True), Column("status", key=True), Column("finished"), Column("time"),
                     Column("spec digest"), Column("detail")))
    for entry in sorted(state.entries.values(), key=lambda e: (e.name, e.finished)):
        table.add(entry.name, entry.status, entry.finished, f"{entry.seconds:.0f}s", entry.digest[7:19],
                  entry.error or (entry.tags[0] if entry.tags else ""))
    show(table, stdout)
    return 0


def cmd_bake(args: argparse.Namespace) -> int:
    from dockyard.scale.bake import bake_argv, write_bake

    if (args.builder or args.push) and not args.run:
        raise InputError("--builder and --push go with --run", "add --run, or pass them to docker buildx bake")
    result = write_bake(select(args.names, args.all), args.output, args.context_root, args.registry,
                        _command("bake", args))
    stdout.print(f"[bold green]wrote[/] {escape(str(result.path))}: {len(result.contexts)} images, "
                 f"{len(result.shared)} shared base stage(s); contexts under "
                 f"{escape(str(next(iter(result.contexts.values())).parent))}")
    if not args.run:
        return 0
    argv = bake_argv(detect(args.backend), Path(result.path.name), (), args.builder, args.push)
    stderr.print(f"$ cd {escape(str(result.path.parent))} && {escape(' '.join(argv))}")
    code = subprocess.run(argv, cwd=result.path.parent, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise BuildError(f"docker buildx bake failed (exit {code})", "its output above names the failing target")
    return 0


def cmd_ci_github(args: argparse.Namespace) -> int:
    from dockyard.scale.actions import pins
    from dockyard.scale.workflow import DEFAULT_INSTALL, WORKFLOW_PATH, WorkflowOptions, workflow

    options = WorkflowOptions(registry=args.registry.rstrip("/"), runner=args.runner, cron=args.cron,
                              branch=args.branch, transformers_ref=args.transformers_ref, pins=pins(args.action_pin),
                              path=_repo_path(args.output) if args.output else WORKFLOW_PATH,
                              command=_command("ci github", args), install=args.install or DEFAULT_INSTALL)
    text = workflow(select(args.names, args.all), options)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    write_file(args.output, text, "-o")
    stdout.print(f"[bold green]wrote[/] {escape(str(args.output))}")
    return 0


def _repo_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cmd_apptainer(args: argparse.Namespace) -> int:
    from dockyard.resolve.resolver import resolve
    from dockyard.scale.apptainer import DefOptions, definition_text, write_definition
    from dockyard.spec.model import load

    plan = resolve(load(args.spec))
    # Only the command line's maps: the definition is for another site, not this machine's config.
    maps = Maps(tuple(parse_rule(rule, "--base-map", "base") for rule in args.base_map))
    base_map = tuple(sorted((image, maps.base_image(image)) for image in {plan.runtime_base, plan.builder_base}))
    options = DefOptions(from_image=args.from_image, bootstrap=args.bootstrap, base_map=base_map,
                         command=f"dockyard apptainer {args.spec}")
    if args.output is None:
        if args.from_image is None:
            raise InputError("building from the base needs -o NAME.def: its %files come from a context folder "
                             "written beside it", "add -o NAME.def, or use --from-image")
        sys.stdout.write(definition_text(plan, options))
        return 0
    written = write_definition(plan, args.output, options, args.context, args.ca_cert)
    stdout.print(f"[bold green]wrote[/] {', '.join(escape(str(p)) for p in written)}")
    return 0
