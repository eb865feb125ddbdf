"""lock, audit, diff, sbom: what went into an image and what it contains."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.text import Text

from dockyard.cli.build import SPEC_HELP
from dockyard.cli.output import escape, print_json, print_note, stderr, stdout
from dockyard.cli.tables import Column, Listing, show
from dockyard.engine.backends import Backend
from dockyard.engine.detect import BACKENDS
from dockyard.errors import EXIT_FAILURE, EXIT_OK
from dockyard.supply.audit import AuditReport
from dockyard.supply.scan import Needle

SBOM_IN_IMAGE = "/opt/dockyard/sbom.cdx.json"
LOCK_HELP = ("Resolve every Python package of the image to an exact version with its hashes (uv pip compile, for "
             "the image's Python and platform; torch and its companions only from the torch index or the "
             "wheelhouse), and record the base images (registry digest, else local image id). Point the spec's "
             "`lock` key at the file and builds install exactly these packages with pip --require-hashes.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lock", help="pin every Python package with hashes (uv) into a lock file",
                              description=LOCK_HELP)
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("-o", "--output", type=Path, help="lock file to write (default: the spec's `lock` key, else "
                   "NAME.lock here)")
    p.add_argument("--platform", default="linux/amd64", help="platform to resolve for (linux/amd64, linux/arm64)")
    p.add_argument("--wheelhouse", type=Path, metavar="DIR", help="local wheels for torch and its companions "
                   "(default: $DOCKYARD_WHEELHOUSE, config [build])")
    p.add_argument("--ca-cert", metavar="FILE", help="CA bundle for a TLS-intercepting proxy (default: "
                   "$DOCKYARD_CA_CERT, config [build])")
    p.add_argument("--base-map", action="append", default=[], metavar="FROM=TO", help="as for build")
    p.add_argument("--index-map", action="append", default=[], metavar="URL=URL", help="as for build")
    p.add_argument("--backend", choices=(*BACKENDS, "none"), default="auto",
                   help="engine to read base image ids from (none: do not record them)")
    p.add_argument("--check", action="store_true", help="lock again and fail if the file would change")
    p.set_defaults(func=cmd_lock)

    p = subparsers.add_parser(
        "audit", help="audit a built image: user, sizes, compilers, setuid files, secrets, entrypoint",
        description="Save IMAGE and read every layer, the config and the history: the user; size by layer, "
                    "directory, Python package and Debian package (the bytes on disk, and the chain of "
                    "dependencies that pulled it in; bytecode, caches, headers, docs, tests counted); compilers; "
                    "setuid/setgid files the image added to its base; secrets (token formats, private keys, and "
                    "values given with --secret-value, also in files a later layer deleted); entrypoint, init "
                    "and healthcheck. Exit 1 when a secret is found (with --strict also on a warning).")
    p.add_argument("image", help="image name or id")
    p.add_argument("--secret-value", action="append", default=[], metavar="VALUE|@FILE",
                   help="a value that must not be in the image (repeatable); @FILE reads it from a file, e.g. a CA "
                        "bundle (each certificate is searched; those the image's ca-certificates ships are public)")
    p.add_argument("--secret-env", action="append", default=[], metavar="VAR",
                   help="a value to look for, read from this environment variable (keeps it off the command line)")
    p.add_argument("--base", help="the base image, to tell which setuid files the image added (default: its "
                   "org.opencontainers.image.base.name label through the base map)")
    p.add_argument("--top", type=int, default=15, help="rows in the package and directory tables")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=cmd_audit)

    p = subparsers.add_parser(
        "diff", help="packages and sizes between two locks, two images, or a lock and an image",
        description="Compare A and B, each a lock file (made by `dockyard lock`) or an image: packages added, "
                    "removed or at another version, and for images the sizes (total and per package). A lock "
                    "against an image says whether the image carries exactly what the lock pins.")
    p.add_argument("a", help="lock file or image")
    p.add_argument("b", help="lock file or image")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when A and B differ")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.set_defaults(func=cmd_diff)

    p = subparsers.add_parser(
        "sbom", help="CycloneDX SBOM of an image's Python environment (cyclonedx-bom)",
        description="Read the package metadata of the image's virtualenv from the saved image and let cyclonedx-py "
                    "write a CycloneDX 1.6 JSON SBOM, with the image as the main component. --into-image makes a "
                    f"new image with the SBOM at {SBOM_IN_IMAGE}.")
    p.add_argument("image", help="image name or id")
    p.add_argument("-o", "--output", type=Path, help="SBOM file (default: print it)")
    p.add_argument("--into-image", metavar="TAG", help="also build TAG: the image plus the SBOM file")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=cmd_sbom)


LOCK_MARKER = "dockyard lock"  # a lock's first line: `# dockyard lock 1`


def cmd_lock(args: argparse.Namespace) -> int:
    from dockyard.engine.maps import load_maps, site_default
    from dockyard.render.lockfile import parse
    from dockyard.render.owned import check_file_output, write_file
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load
    from dockyard.supply.lock import LockRequest, base_refs, make_lock

    plan = resolve(load(args.spec))
    maps = load_maps(tuple(args.base_map), tuple(args.index_map))
    wheelhouse = args.wheelhouse or (Path(w) if (w := site_default("wheelhouse")) else None)
    output = args.output or (Path(plan.spec.root) / plan.spec.lock if plan.spec.lock else Path(f"{plan.name}.lock"))
    if not args.check:  # checked before the (slow) resolution: a lock replaces only a lock
        check_file_output(output, "-o", marker=LOCK_MARKER)
    inspect = None
    if args.backend != "none":
        from dockyard.engine.backends import backend_for
        from dockyard.engine.detect import detect
        from dockyard.errors import EngineError

        try:
            inspect = backend_for(detect(args.backend)).inspect
        except EngineError as exc:
            print_note(f"no engine ({exc.message}): base images are not recorded")
    request = LockRequest(plan, maps, args.platform, wheelhouse, args.ca_cert or site_default("ca-cert"),
                          base_refs(plan, maps, inspect))
    lock = make_lock(request)
    text = lock.format()
    if args.check:
        old = parse(output.read_text(encoding="utf-8"), str(output)) if output.is_file() else None
        if old is None or old.digest() != lock.digest() or old.base_image != lock.base_image:
            stderr.print(f"[bold red]lock out of date:[/] {escape(str(output))} (lock again: dockyard lock "
                         f"{escape(args.spec)} -o {escape(str(output))})")
            return EXIT_FAILURE
        stdout.print(f"[bold green]lock up to date[/] {escape(str(output))} {lock.digest()}")
        return EXIT_OK
    write_file(output, text, "-o", marker=LOCK_MARKER)
    versions = lock.versions()
    key = ", ".join(f"{n} {versions[n]}" for n in ("torch", "transformers") if n in versions)
    stdout.print(f"[bold green]locked[/] {len(lock.packages)} packages ({escape(key)}) for Python {lock.python} "
                 f"{lock.platform} -> {escape(str(output))}")
    stdout.print(f"lock digest {lock.digest()}")
    for base in lock.base_image:
        stdout.print(f"base {escape(base.arg)} {escape(base.name)} = {escape(base.used)} {escape(base.ref)}")
    for note in lock.note:
        print_note(note)
    if not plan.spec.lock:
        print_note(f'to build from it, add lock = "{output}" to the spec ([image] table, path relative to the spec)')
    return EXIT_OK


def needles(args: argparse.Namespace) -> tuple[Needle, ...]:
    import os

    from dockyard.errors import InputError
    from dockyard.supply.scan import needles_from_value

    found: list[Needle] = []
    for number, value in enumerate(args.secret_value, 1):
        label = f"--secret-value #{number}"
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            try:
                value = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise InputError(f"--secret-value {escape(str(path))}: cannot read: {exc.strerror or exc}") from None
            label = f"--secret-value @{path}"
        found += needles_from_value(value, label)
    for name in args.secret_env:
        if name not in os.environ:
            raise InputError(f"--secret-env {name}: the variable is not set")
        found += needles_from_value(os.environ[name], f"${name}")
    return tuple(found)


def cmd_audit(args: argparse.Namespace) -> int:
    from dockyard.engine.backends import backend_for
    from dockyard.engine.detect import detect
    from dockyard.engine.maps import load_maps
    from dockyard.supply.audit import audit_image

    wanted = needles(args)  # before the engine: a bad --secret-value fails fast
    report = audit_image(backend_for(detect(args.backend)), args.image, wanted, load_maps((), ()), args.base)
    if args.json:
        print_json(report.to_json())
    else:
        print_audit(report, args.top)
    warned = any(c.status == "warn" for c in report.checks)
    return EXIT_FAILURE if not report.ok or (args.strict and warned) else EXIT_OK


STATUS = {"ok": ("✓", "green"), "info": ("i", "cyan"), "warn": ("!", "yellow"), "fail": ("✗", "red")}


def _table(title: str, *columns: str, keys: int = 1) -> Listing:
    """A listing keyed by its first `keys` columns (a size, or a status mark and a name)."""
    return Listing(tuple(Column(c, justify="right" if c == "size" else "left", key=i < keys)
                         for i, c in enumerate(columns)), title=title)


def print_audit(report: AuditReport, top: int) -> None:
    from dockyard.engine.report import human_size

    stdout.print(f"[bold]{escape(report.image)}[/]  {human_size(report.size)}  id {escape(report.image_id[:19])}  "
                 f"user {escape(report.user)}")
    layers = _table("layers", "size", "instruction")
    for layer in report.layers:
        if layer["size"]:
            layers.add(human_size(layer["size"]), layer["instruction"] or "(base image)")
    show(layers, stdout)
    folders = _table("directories", "size", "path")
    for path, size in report.directories[:top]:
        folders.add(human_size(size), path)
    show(folders, stdout)
    packages = _table("Python packages", "size", "package", "version")
    for row in report.packages[:top]:
        packages.add(human_size(row.size), row.name, row.version)
    show(packages, stdout)
    if report.apt:
        apt = _table("Debian packages (bytes on disk)", "size", "package", "pulled in by")
        for deb in report.apt[:top]:
            chain = " > ".join(deb.pulled_by) or "(installed itself)"
            apt.add(human_size(deb.size), deb.name, chain)
        show(apt, stdout)
    kinds = _table("by kind (may overlap)", "size", "kind")
    for kind, size in report.categories.items():
        kinds.add(human_size(size), kind)
    show(kinds, stdout)
    if report.findings:
        findings = _table("secrets", "kind", "where", "hint", "status")
        for item in report.findings:
            status = Text(f"public: {item.owner}") if item.owner else Text("leak", style="red")
            where = f"{item.where} ({item.note})" if item.note else item.where
            findings.add(item.kind, where, item.hint, status)
        show(findings, stdout)
    checks = _table("checks", "", "check", "detail", keys=2)
    for check in report.checks:
        mark, colour = STATUS[check.status]
        checks.add(Text(mark, style=colour), check.name, check.detail)
    show(checks, stdout)
    verdict = "[bold green]audit passed[/]" if report.ok else "[bold red]audit failed[/]"
    stdout.print(verdict)


def _backend(name: str) -> Backend:
    from dockyard.engine.backends import backend_for
    from dockyard.engine.detect import detect

    return backend_for(detect(name))


def cmd_diff(args: argparse.Namespace) -> int:
    from dockyard.engine.report import human_size
    from dockyard.supply.diff import diff, is_lock

    backend = None if is_lock(args.a) and is_lock(args.b) else _backend(args.backend)
    report = diff(args.a, args.b, backend)
    if args.json:
        print_json(report.to_json())
    else:
        for key, side in (("A", report.a), ("B", report.b)):
            size = f", {human_size(side.total)}" if side.total is not None else ""
            stdout.print(f"{key}: {escape(side.label)} ({side.kind}, {len(side.versions)} packages{size})")
        if report.a.total is not None and report.b.total is not None:
            delta = report.b.total - report.a.total
            stdout.print(f"size: {'+' if delta >= 0 else '-'}{human_size(abs(delta))} "
                         f"({report.b.total / max(report.a.total, 1):.2f} x)")
        table = _table("changes", "package", "A", "B", "size A", "size B", "note")
        for change in report.changes:
            table.add(change.name, change.before or "-", change.after or "-",
                      human_size(change.size_before) if change.size_before is not None else "",
                      human_size(change.size_after) if change.size_after is not None else "", change.note)
        if report.changes:
            show(table, stdout)
        verdict = "same packages" if report.same else f"{len(report.changes)} difference(s)"
        stdout.print(f"[bold]{verdict}[/] ({report.unchanged} unchanged)")
    return EXIT_FAILURE if args.exit_code and not report.same else EXIT_OK


def cmd_sbom(args: argparse.Namespace) -> int:
    import json

    from dockyard.supply.sbom import into_image, sbom_image, write

    backend = _backend(args.backend)
    bom = sbom_image(backend, args.image)
    count = len(bom.get("components", []))
    if args.output:
        write(bom, args.output)
        stderr.print(f"[bold green]sbom[/] {count} components of {escape(args.image)} -> {escape(str(args.output))}")
    elif not args.into_image:
        print(json.dumps(bom, indent=2, sort_keys=True))
    if args.into_image:
        image_id = into_image(backend, args.image, bom, args.into_image)
        stderr.print(f"[bold green]image[/] {escape(args.into_image)} ({escape(image_id[:19])}) carries the SBOM at "
                     f"{SBOM_IN_IMAGE}")
    return EXIT_OK
