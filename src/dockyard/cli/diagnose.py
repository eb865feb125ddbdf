"""`dockyard doctor` (is this machine ready to build?) and `dockyard explain` (why did this build fail?).

`print_explanation` is also what `dockyard build` shows when a build fails:
    from dockyard.cli.diagnose import print_explanation
    from dockyard.diagnose.explain import explain_log
    print_explanation(explain_log(log_text), log_path=path)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.text import Text

from dockyard.cli.output import no_controls, print_json, stderr, stdout
from dockyard.cli.tables import Column, Listing, show
from dockyard.diagnose.doctor import Check, Host, Report, run_doctor
from dockyard.diagnose.explain import Explanation, explain_log
from dockyard.diagnose.host import memory_and_cores
from dockyard.engine.detect import BACKENDS
from dockyard.errors import EXIT_FAILURE, EXIT_OK, InputError
from dockyard.hostsize import max_jobs

STATUS_STYLE = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red"),
                "skip": ("skip", "dim")}
MEMORY_SIGNATURES = ("compiler-oom", "killed")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check this machine: engine, BuildKit, disk, network, memory, GPUs",
        description="Check what this machine gives a container build and say what to fix. "
                    "Exit 0 when no check failed, 1 otherwise.")
    doctor.add_argument("--json", action="store_true", help="print the checks and facts as JSON")
    doctor.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="the engine to check as the build engine (default: auto)")
    doctor.add_argument("--offline", action="store_true",
                        help="skip the network checks (registry reachability, TLS interception)")
    doctor.set_defaults(func=cmd_doctor)

    explain = subparsers.add_parser(
        "explain", help="explain a failed build log: known cause and fix, or the failing step",
        description="Match a failed build's log (BuildKit, buildx, legacy docker, podman) against known "
                    "failure signatures. Exit 0 when a known cause matched or the log is of a build that succeeded, "
                    "1 when the failure is unknown, 2 for a missing file.")
    explain.add_argument("logfile", nargs="?", default="-", metavar="LOGFILE",
                         help="the build log, or - for standard input (default)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")
    explain.set_defaults(func=cmd_explain)


# ------------------------------------------------------------------------------------------ doctor

def cmd_doctor(args: argparse.Namespace) -> int:
    report = run_doctor(Host(network=not args.offline), args.backend)
    if args.json:
        print_json(report.to_dict())
    else:
        print_report(report)
    return EXIT_FAILURE if report.failed else EXIT_OK


def _status_text(check: Check) -> Text:
    label, style = STATUS_STYLE[check.status]
    return Text(label, style=style)


def print_report(report: Report, console: Console = stdout) -> None:
    table = Listing((Column("status", key=True), Column("check", key=True, style="bold"), Column("finding / fix")),
                    title="dockyard doctor", lines=True)
    for check in report.checks:
        body = Text(no_controls(check.detail))
        if check.fix and check.status in ("warn", "fail"):
            body.append("\nfix: ", style="bold")
            body.append(no_controls(check.fix))
        table.add(_status_text(check), check.name, body)
    show(table, console)
    counts = report.counts()
    summary = f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s), {counts['skip']} skipped"
    console.print(Text(summary, style="bold red" if report.failed else "bold green"))


# ----------------------------------------------------------------------------------------- explain

LOG_WINDOW = 16 * 1024 * 1024  # the end of a build log that explain reads: where a failure is, in bounded memory


def read_log(name: str, window: int = LOG_WINDOW) -> tuple[str, int]:
    """The last `window` bytes of the log (from a line start), and how many bytes were skipped before them."""
    if name == "-":
        if sys.stdin is None:
            raise InputError("standard input is closed", "pass the log file's path instead of -")
        return _tail_of(sys.stdin.buffer, window, 0)
    path = Path(name)
    if not path.is_file():
        what = "not a regular file" if path.exists() else "no such log file"
        raise InputError(f"{what}: {name}",
                         "pass the saved build log (e.g. `docker build --progress=plain ... 2>&1 | tee build.log`) "
                         "or - to read standard input")
    try:
        with path.open("rb") as handle:
            start = max(0, path.stat().st_size - window)
            handle.seek(start)
            return _tail_of(handle, window, start)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the log: {exc.strerror or exc}") from None


def _tail_of(stream: BinaryIO, window: int, skipped: int) -> tuple[str, int]:
    """Read `stream` to its end keeping only the last `window` bytes; a partial first line is dropped."""
    kept = bytearray()
    try:
        while chunk := stream.read(1024 * 1024):
            kept += chunk
            if len(kept) > window:
                skipped += len(kept) - window
                del kept[:len(kept) - window]
    except OSError as exc:
        raise InputError(f"the log cannot be read: {exc.strerror or exc}") from None
    if skipped:
        cut = kept.find(b"\n") + 1
        skipped += cut
        del kept[:cut]
    return kept.decode("utf-8", errors="replace"), skipped


def cmd_explain(args: argparse.Namespace) -> int:
    text, skipped = read_log(args.logfile)
    if skipped:
        stderr.print(f"[dim]note:[/] the log's first {skipped} bytes were skipped: explain reads its last "
                     f"{LOG_WINDOW // 1024 // 1024} MiB, where a failure is")
    explanation = explain_log(text)
    if args.json:
        print_json(explanation.to_dict())
    else:
        print_explanation(explanation, console=stdout)
    return EXIT_OK if explanation.known or explanation.succeeded else EXIT_FAILURE


def _memory_note() -> str:
    mem, _, cores = memory_and_cores(Host())
    jobs = max_jobs(mem, cores)
    return f"on this machine ({mem / 1024**3:.0f} GiB, {cores} cores) dockyard would use MAX_JOBS={jobs}"


def print_explanation(explanation: Explanation, console: Console = stderr, log_path: str | None = None) -> None:
    """Show why a build failed: each known cause with its evidence and fix, else the failing step's tail."""
    if explanation.success is not None:
        number, line = explanation.success
        console.print(Text("the build succeeded: nothing to explain", style="bold green"))
        console.print(Text(f"  line {number}: {no_controls(line)}", style="dim"))
        return
    step = explanation.step
    if step:
        code = f" (exit code {step.exit_code})" if step.exit_code is not None else ""
        console.print(Text.assemble(("failed step: ", "bold"), f"{no_controls(step.label)}{code}"))
    for match in explanation.matches:
        table = Listing((Column("", key=True, style="bold"), Column("")), show_header=False)
        table.add("cause", match.cause)
        for number, text in match.evidence:
            table.add("evidence", Text(f"line {number}: {no_controls(text)}", style="dim"))
        table.add("fix", match.fix)  # plain text: brackets in a fix are not rich markup
        if match.dockyard:
            table.add("with dockyard", match.dockyard)
        if match.id in MEMORY_SIGNATURES:
            table.add("note", _memory_note())
        console.print(Text.assemble(("known failure ", "bold yellow"), (f"[{match.id}] ", "bold"), match.title))
        show(table, console)
    if not explanation.known:
        console.print(Text("no known failure signature matched this log", style="bold yellow"))
        if explanation.tail:
            where = "the failing step" if step else "the log"
            console.print(Text(f"last lines of {where}:", style="bold"))
            for line in explanation.tail:
                console.print(Text(f"  {no_controls(line)}", style="dim"))
    if log_path:
        console.print(Text.assemble(("full log: ", "bold"), log_path))
