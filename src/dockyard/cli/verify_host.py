"""`dockyard verify --host`: argument checks and the terminal view of a Python environment's probes."""

from __future__ import annotations

import argparse
from typing import Any

from dockyard.cli.output import escape, print_json, stdout
from dockyard.cli.probes import probe_listing
from dockyard.cli.tables import show
from dockyard.errors import InputError, VerifyError
from dockyard.verify.host import HostReport, load_plan_file, verify_host

VERIFY_USAGE = "dockyard verify IMAGE [--spec SPEC] | dockyard verify --host [--spec SPEC | --plan PLAN_JSON]"


def verify_arguments(args: argparse.Namespace) -> None:
    """IMAGE or --host, never both; --plan only with --host; --spec or --plan, not both."""
    if args.host and args.image:
        raise InputError(f"give an IMAGE or --host, not both (got {args.image!r} and --host)", VERIFY_USAGE)
    if not args.host and not args.image:
        raise InputError("nothing to verify: give an IMAGE, or --host to probe this Python environment",
                         VERIFY_USAGE)
    if args.plan and not args.host:
        raise InputError("--plan goes with --host: an image carries its own plan (/opt/dockyard/plan.json)",
                         "dockyard verify IMAGE [--spec SPEC]")
    if args.plan and args.spec:
        raise InputError("give --spec or --plan, not both", VERIFY_USAGE)
    if args.host and args.gpus:
        raise InputError("--gpus is for images: --host always probes the GPUs this environment sees",
                         "dockyard verify --host")


def cmd_verify_host(args: argparse.Namespace, expect: dict[str, Any] | None) -> int:
    if args.plan:
        expect = load_plan_file(args.plan)
    report = verify_host(expect)
    if args.json:
        print_json(report.to_json())
    else:
        print_host(report)
    if not report.ok:
        raise VerifyError(f"{len(report.failures())} probe(s) failed in {report.image}",
                          "each failed probe shows what was expected and what this environment has")
    return 0


def print_host(report: HostReport) -> None:
    mode = report.facts.get("mode")
    title = f"probes in {report.image}" + (" (report mode: nothing to compare)" if mode == "report" else "")
    show(probe_listing(title, report.results), stdout)
    gpu = report.facts.get("gpu") or {}
    if gpu:
        devices = gpu.get("devices") or []
        names = "; ".join(f"{d['index']}: {d['name']} ({d.get('capability') or d.get('arch') or '?'})"
                          for d in devices) or "none"
        driver = ", ".join(f"{k} {v}" for k, v in sorted((gpu.get("driver") or {}).items())) or "none"
        stdout.print(escape(f"torch {gpu.get('torch')} ({gpu.get('backend')}); devices: {names}; driver: {driver}"))
    installed = report.facts.get("installed") or {}
    if installed:
        listing = ", ".join(f"{name} {version}" for name, version in installed.items())
        stdout.print(escape(f"installed ({len(installed)}): {listing}"))
    failures = report.failures()
    colour = "green" if not failures else "red"
    passed = len(report.results) - len(failures)
    stdout.print(f"[bold {colour}]verify --host[/] {passed}/{len(report.results)} probes passed")
