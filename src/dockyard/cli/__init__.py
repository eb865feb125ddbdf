"""The `dockyard` command line: the only layer that reads argv and the environment, prints, and picks
exit codes. Each command group lives in its own module with a `register(subparsers)` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from dockyard import __version__
from dockyard.cli.output import print_error
from dockyard.errors import EXIT_FAILURE, EXIT_INVALID, DockyardError

# Command modules, in the order `dockyard --help` lists them.
COMMAND_MODULES = (
    "dockyard.cli.core",
    "dockyard.cli.build",
    "dockyard.cli.lint",
    "dockyard.cli.scale",
    "dockyard.cli.diagnose",
    "dockyard.cli.supply",
)

EPILOG = """exit codes:
  0  success
  1  failure: a build or probe failed, lint findings at the fail level, engine problem
  2  invalid or impossible input: spec, preset, option or version combination
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="Build small, secure, tested container images for Hugging Face Transformers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockyard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside an existing module
                raise
            continue  # command group not present in this build
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        code: int = args.func(args)
        return code
    except DockyardError as exc:
        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print_error(DockyardError("interrupted"))
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE


def entrypoint() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
