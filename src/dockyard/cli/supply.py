"""lock, audit, diff, sbom: what went into an image and what it contains."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dockyard.build.engine import BACKENDS
from dockyard.cli.build import SPEC_HELP
from dockyard.cli.output import escape, print_note, stderr, stdout
from dockyard.errors import EXIT_FAILURE, EXIT_OK

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


def cmd_lock(args: argparse.Namespace) -> int:
    from dockyard.build.maps import load_maps, site_default
    from dockyard.resolve import resolve
    from dockyard.spec import load
    from dockyard.supply.lock import LockRequest, base_refs, make_lock
    from dockyard.supply.lockfile import parse

    plan = resolve(load(args.spec))
    maps = load_maps(tuple(args.base_map), tuple(args.index_map))
    wheelhouse = args.wheelhouse or (Path(w) if (w := site_default("wheelhouse")) else None)
    inspect = None
    if args.backend != "none":
        from dockyard.build.backends import backend_for
        from dockyard.build.engine import detect
        from dockyard.errors import EngineError

        try:
            inspect = backend_for(detect(args.backend)).inspect
        except EngineError as exc:
            print_note(f"no engine ({exc.message}): base images are not recorded")
    request = LockRequest(plan, maps, args.platform, wheelhouse, args.ca_cert or site_default("ca-cert"),
                          base_refs(plan, maps, inspect))
    lock = make_lock(request)
    output = args.output or (Path(plan.spec.root) / plan.spec.lock if plan.spec.lock else Path(f"{plan.name}.lock"))
    text = lock.format()
    if args.check:
        old = parse(output.read_text(encoding="utf-8"), str(output)) if output.is_file() else None
        if old is None or old.digest() != lock.digest() or old.base_image != lock.base_image:
            stderr.print(f"[bold red]lock out of date:[/] {escape(str(output))} (lock again: dockyard lock "
                         f"{escape(args.spec)} -o {escape(str(output))})")
            return EXIT_FAILURE
        stdout.print(f"[bold green]lock up to date[/] {escape(str(output))} {lock.digest()}")
        return EXIT_OK
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
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
