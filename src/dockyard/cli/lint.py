"""`dockyard lint PATH...`: ML-aware Dockerfile lint, with hadolint merged in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.output import print_json, print_note, print_warning
from dockyard.errors import EXIT_FAILURE, EXIT_OK, InputError
from dockyard.lint import formats
from dockyard.lint.config import HADOLINT_MODES, check_code, find_config, load
from dockyard.lint.engine import LintConfig, LintReport, lint_model, lint_report
from dockyard.lint.finding import SEVERITIES, Finding
from dockyard.lint.parser import parse


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="lint Dockerfiles with ML-aware rules (DY1xx) and hadolint",
        description=(
            "Lint Dockerfiles: dockyard's ML rules (DY000, DY101-DY116) plus hadolint's generic rules when "
            "hadolint is installed. Folders are searched for Dockerfile, Containerfile, *.dockerfile and "
            "Dockerfile.* files; '-' reads standard input. Exit 0 below the fail level, 1 at or above it, "
            "2 for usage errors. Suppress inline with '# dockyard: ignore=DY109' above an instruction."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Dockerfiles or folders ('-' for stdin)")
    parser.add_argument(
        "--format", choices=formats.FORMATS, default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--hadolint",
        choices=HADOLINT_MODES,
        default=None,
        help="run hadolint: auto = when installed (default), on = required, off = never",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="CODE",
        help="ignore a rule code (repeatable; DYnnn, DLnnnn or SCnnnn)",
    )
    parser.add_argument(
        "--fail-level",
        choices=SEVERITIES,
        default=None,
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="config file (default: nearest .dockyard-lint.toml or [tool.dockyard.lint] in pyproject.toml)",
    )
    parser.set_defaults(func=run)


def _config(args: argparse.Namespace) -> LintConfig:
    settings: dict[str, Any] = {}
    if args.config is not None:
        if not args.config.is_file():
            raise InputError(f"{args.config}: config file not found")
        settings = load(args.config)
    else:
        found = find_config(Path.cwd())
        if found is not None:
            settings = load(found)
    ignore = set(settings.get("ignore", []))
    ignore.update(
        check_code(code, "--ignore") for raw in args.ignore for code in raw.split(",") if code.strip()
    )
    return LintConfig(
        ignore=frozenset(ignore),
        fail_level=args.fail_level or settings.get("fail-level", "warning"),
        hadolint=args.hadolint or settings.get("hadolint", "auto"),
        severity=settings.get("severity", {}),
    )


def read_stdin() -> str:
    """Standard input as UTF-8 text; closed, unreadable or binary input is a usage error."""
    if sys.stdin is None:
        raise InputError("standard input is closed", "pipe a Dockerfile in, or give its path instead of '-'")
    try:
        data = sys.stdin.buffer.read()
    except OSError as exc:
        raise InputError(f"standard input cannot be read: {exc.strerror or exc}",
                         "pipe a Dockerfile in, or give its path instead of '-'") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start:exc.start + 1]
        raise InputError(f"standard input is not UTF-8 text (byte {exc.start}: {byte!r}); a Dockerfile is text",
                         "pipe the Dockerfile itself, not a binary or another encoding") from None


def _stdin_report(config: LintConfig, others: list[str]) -> LintReport:
    from dockyard.lint import hadolint

    model = parse(read_stdin(), "-")
    found: list[Finding] = []
    notes: list[str] = []
    if config.hadolint != "off":
        binary = hadolint.find_binary(required=config.hadolint == "on")
        forced = config.hadolint == "on"
        if binary and hadolint.runs_on(model, forced):
            found = hadolint.run_on_text(binary, model.text, "-", model)
        elif binary:
            notes.extend(f"-: {reason}" for reason in [hadolint.skip_reason(model, forced)] if reason)
        else:
            notes.append("hadolint not found: only dockyard's rules ran")
    findings = lint_model(model, config, found)
    report = lint_report(others, config) if others else LintReport([], 0)
    return LintReport(
        sorted(findings + report.findings, key=Finding.sort_key), report.files + 1, notes + report.notes
    )


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    paths = [p for p in args.paths if p != "-"]
    report = _stdin_report(config, paths) if "-" in args.paths else lint_report(paths, config)
    for note in report.notes:
        print_warning(note)
    if args.format == "json":
        print_json(formats.to_json(report.findings, report.files))
    elif args.format == "sarif":
        print_json(formats.to_sarif(report.findings))
    else:
        sys.stdout.write(formats.to_text(report.findings))
        sys.stdout.flush()
        print_note(formats.summary_line(report.findings, report.files))
    return EXIT_FAILURE if report.failed(config.fail_level) else EXIT_OK
