"""import, fidelity: a hand-written Dockerfile read back into a spec; a preset compared with its original."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from dockyard.cli.output import escape, print_json, print_note, print_warning, stdout
from dockyard.errors import EXIT_FAILURE, EXIT_OK, InputError

IMPORT_HEADER = "# Imported by `dockyard import`"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import", help="turn a hand-written Dockerfile into a spec, with a report of every item",
        description="Read a hand-written Dockerfile with lint's parser (ARG/ENV resolved as BuildKit does, "
                    "heredocs, continuations, multi-stage COPY --from, pip/uv/conda/apt, git clones) and write a "
                    "spec that `dockyard check` accepts: base image -> target, torch and its index -> torch and "
                    "variant, known add-ons, modalities, transformers and its extras, packages (pinned), system "
                    "packages, env (never secrets), user, entrypoint. What dockyard cannot resolve is taken out "
                    "with the reason. The report lists every item of the Dockerfile: the key it maps to, or why "
                    "none does. Exit 0 with a spec, 2 for input that is not a Dockerfile (or cannot resolve).")
    p.add_argument("dockerfile", help="the Dockerfile ('-' reads standard input)")
    p.add_argument("-o", "--output", type=Path, help="write the spec here (default: print it)")
    p.add_argument("--report", type=Path, metavar="FILE", help="write the report of every item here")
    p.add_argument("--name", help="the image name (default: from the file or its folder)")
    p.add_argument("--json", action="store_true", help="print the spec, the report and what was taken out as JSON")
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser(
        "fidelity", help="compare a preset with the original it reproduces (computed, with the record's reasons)",
        description="Compare a preset's image, as rendered and read back, with the original of transformers' "
                    "docker/ folder it reproduces: every item of the original (packages, extras, apt packages, "
                    "env, base, Python, user, entrypoint, build arguments, files, steps) and of the image, kept "
                    "or explained by the preset's fidelity record. Exit 1 when an item is unaccounted for or the "
                    "record says what is not so.")
    p.add_argument("preset", help="a preset that reproduces an original (`dockyard presets`)")
    p.add_argument("--original", type=Path, action="append", metavar="FILE",
                   help="read this original instead of the stored inventory (e.g. a newer one); give it twice "
                        "for an image built FROM another (the base first)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_fidelity)


# -- import ---------------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from dockyard.readback.importer import import_file, import_text

    if args.dockerfile == "-":
        from dockyard.cli.lint import read_stdin

        imported = import_text(read_stdin().encode(), "-", args.name or "imported")
    else:
        imported = import_file(Path(args.dockerfile), args.name)
    if args.output is not None:
        _write_spec(args.output, imported.toml())
    report = _report_rows(imported)
    if args.report is not None:
        text = json.dumps(report, indent=2) + "\n" if args.json else _report_text(imported)
        _write(args.report, text)
    if args.json:
        print_json({"spec": imported.document(), "report": report, "taken_out": list(imported.taken_out)})
    elif args.output is None:
        print(imported.toml(), end="")
    mapped = sum(1 for r in imported.rows if r.key)
    print_note(f"{len(imported.rows)} items: {mapped} carried by the spec, {len(imported.rows) - mapped} not"
               + (f" (the report in {args.report} says why)" if args.report else " (--report FILE says why)"))
    for line in imported.taken_out:
        print_warning(f"taken out so that the spec resolves: {line}")
    return EXIT_OK


def _write_spec(path: Path, text: str) -> None:
    """Write the spec; a file that `dockyard import` did not write is never replaced."""
    if path.exists():
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[: len(IMPORT_HEADER)]
        except OSError as exc:
            raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        if not path.is_file() or head != IMPORT_HEADER:
            raise InputError(f"{path}: exists and was not written by `dockyard import`",
                             "choose another path, or remove the file first")
    _write(path, text)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be written: {exc.strerror or exc}") from None


def _report_rows(imported: Any) -> list[dict[str, Any]]:
    return [{"kind": r.item.kind, "item": r.item.name, "value": r.item.value, "line": r.item.line,
             "in_final_image": r.item.final, "key": r.key, "note": r.note} for r in imported.rows]


def _report_text(imported: Any) -> str:
    lines = [f"dockyard import report: {imported.source}", "",
             "line  kind        item -> key: note", ""]
    for row in imported.rows:
        value = f" {row.item.value}" if row.item.value and row.item.kind == "packages" else ""
        lines.append(f"{row.item.line:>4}  {row.item.kind:<10}  {row.item.name}{value} -> {row.key or '(not mapped)'}: "
                     f"{row.note}")
    if imported.taken_out:
        lines += ["", "Taken out so that the spec resolves:"] + [f"- {line}" for line in imported.taken_out]
    return "\n".join(lines) + "\n"


# -- fidelity -------------------------------------------------------------------------------------------------


def cmd_fidelity(args: argparse.Namespace) -> int:
    from dockyard.readback.importer import read_dockerfile
    from dockyard.readback.originals import read_original
    from dockyard.readback.presets import preset_comparison, preset_record

    original = None
    if args.original:
        record = preset_record(args.preset)
        texts = []
        for place, path in enumerate(args.original):
            data, _ = read_dockerfile(path)
            name = record.originals[place] if place < len(record.originals) else str(path)
            texts.append((name, data.decode("utf-8", errors="replace")))
        original = read_original(texts)
    comparison = preset_comparison(args.preset, original)
    if args.json:
        print_json({"preset": comparison.preset, "original": comparison.original,
                    "rows": [r.__dict__ for r in comparison.rows], "problems": list(comparison.problems)})
    else:
        stdout.print(_fidelity_table(comparison))
        for problem in comparison.problems:
            print_warning(problem)
        counts: dict[str, int] = {}
        for row in comparison.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        print_note(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"; {len(comparison.problems)} problems")
    return EXIT_FAILURE if comparison.problems else EXIT_OK


def _fidelity_table(comparison: Any) -> Table:
    table = Table(title=f"{comparison.preset} against {comparison.original}", show_lines=False)
    for column in ("kind", "item", "original", "image", "status", "why"):
        table.add_column(column, overflow="fold")
    for row in comparison.rows:
        table.add_row(*(escape(v) for v in (row.kind, row.name, row.original, row.image, row.status, row.reason)))
    return table
