"""The `dockyard` command line: the only layer that reads argv and the environment, prints, and picks
exit codes. Each command group lives in its own module with a `register(subparsers)` function.

Start-up stays short for pre-commit hooks and CI: only the module of the command being run is imported
(with what it needs); the others appear in `--help` through the COMMANDS table, whose one-line help
texts a test keeps equal to what each module registers.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from dockyard import __version__
from dockyard.errors import EXIT_FAILURE, EXIT_INVALID, DockyardError, InputError

# Command groups in the order `dockyard --help` lists them: module -> {command: one-line help}.
COMMANDS: dict[str, dict[str, str]] = {
    "dockyard.cli.core": {
        "presets": "list the built-in presets",
        "show": "print a preset's spec",
        "check": "resolve a spec and print the plan",
        "render": "write the Dockerfile and build context files",
        "schema": "print the JSON Schema of spec files",
    },
    "dockyard.cli.build": {
        "build": "build an image with a real engine, then verify it",
        "verify": "run dockyard's probes inside an image, or in this Python environment (--host)",
        "base": "base images without a registry",
    },
    "dockyard.cli.lint": {
        "lint": "lint Dockerfiles with ML-aware rules (DY1xx) and hadolint",
    },
    "dockyard.cli.readback": {
        "import": "turn a hand-written Dockerfile into a spec, with a report of every item",
        "fidelity": "compare a preset with the original it reproduces (computed, with the record's reasons)",
    },
    "dockyard.cli.scale": {
        "matrix": "build many images on this engine, resumable",
        "bake": "write a docker-bake.hcl (and the build contexts) for BuildKit",
        "ci": "write a CI workflow that builds, verifies, then pushes",
        "apptainer": "write an Apptainer/Singularity definition",
    },
    "dockyard.cli.diagnose": {
        "doctor": "check this machine: engine, BuildKit, disk, network, memory, GPUs",
        "explain": "explain a failed build log: known cause and fix, or the failing step",
    },
    "dockyard.cli.supply": {
        "lock": "pin every Python package with hashes (uv) into a lock file",
        "audit": "audit a built image: user, sizes, compilers, setuid files, secrets, entrypoint",
        "diff": "packages and sizes between two locks, two images, or a lock and an image",
        "sbom": "CycloneDX SBOM of an image's Python environment (cyclonedx-bom)",
    },
    "dockyard.cli.deploy": {
        "deploy": "write compose, Kubernetes or KServe files for a serve image",
    },
    "dockyard.cli.serving": {
        "up": "run a serve image here and wait until it answers",
        "down": "stop what `dockyard up` started",
    },
    "dockyard.cli.push": {
        "push": "push a built image to a registry and record its digest",
    },
}
COMMAND_MODULES = tuple(COMMANDS)

EPILOG = """exit codes:
  0  success
  1  failure: a build or probe failed, lint findings at the fail level, engine problem
  2  invalid or impossible input: spec, preset, option or version combination
"""


VALUE_OPTIONS = ("--knowledge",)  # top-level options that take a value


def _command_word(argv: Sequence[str]) -> str | None:
    """The command argv asks for: its first word that is neither an option nor a top-level option's value."""
    words = iter(argv)
    for word in words:
        if word in VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. With `argv`, only the module of the command it names is imported; the other commands
    are listed by name and help alone. Without, every command module registers its commands."""
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="Build small, secure, tested container images for Hugging Face Transformers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockyard {__version__}")
    parser.add_argument("--knowledge", metavar="DIR",
                        help="read the knowledge tables (torch, CUDA, transformers releases ...) from DIR instead of "
                             "the ones installed with dockyard; default: $DOCKYARD_KNOWLEDGE, then `knowledge` in "
                             "the site config. DIR must fit this dockyard's schema (docs/knowledge.md)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else _command_word(argv)
    for module_name, commands in COMMANDS.items():
        if argv is None or wanted in commands:
            import_module(module_name).register(subparsers)
        else:
            for command, help_text in commands.items():
                subparsers.add_parser(command, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stdout is None or sys.stderr is None:  # started with >&- or 2>&-: nothing could be reported
        if sys.stderr is not None:
            _print_error(InputError("standard output is closed: dockyard has nowhere to write its output",
                                    "redirect it instead of closing it: > FILE or > /dev/null"))
        return EXIT_INVALID
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        _choose_knowledge(args.knowledge)
        code: int = args.func(args)
        sys.stdout.flush()  # a full disk or a closed pipe behind stdout shows here, not at exit
        return code
    except DockyardError as exc:
        _print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error(DockyardError("interrupted"))
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except OSError as exc:  # writing stdout to /dev/full, an unreadable file met late: a message, not a traceback
        _silence_stdout()
        where = f"{exc.filename}: " if exc.filename else "standard output: " if exc.errno == errno.ENOSPC else ""
        _print_error(DockyardError(f"{where}{exc.strerror or exc}"))
        return EXIT_FAILURE


def _choose_knowledge(option: str | None) -> None:
    """Point the library at the knowledge folder the user chose: --knowledge, $DOCKYARD_KNOWLEDGE, or the
    site config's `knowledge`; the installed folder when none is set (then nothing more is imported)."""
    from dockyard.engine.siteconfig import read_config

    path, origin = option, "--knowledge"
    if not path and os.environ.get("DOCKYARD_KNOWLEDGE"):
        path, origin = os.environ["DOCKYARD_KNOWLEDGE"], "$DOCKYARD_KNOWLEDGE"
    if not path:
        config, data = read_config(os.environ)
        path, origin = data.get("knowledge"), f"{config} knowledge"
    chosen = sys.modules.get("dockyard.knowledge.folder")
    if path or chosen is not None:  # a folder to use, or an earlier in-process choice to undo
        from dockyard.knowledge.folder import use_knowledge

        use_knowledge(path, origin)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _print_error(exc: DockyardError) -> None:
    from dockyard.cli.output import print_error  # rich loads only when there is something to print

    print_error(exc)


def entrypoint() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
