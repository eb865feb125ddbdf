"""Every table dockyard prints reads cleanly where it goes (issue 24): on a terminal, a table whose
columns each hold their longest word, or `name: value` lines when the terminal is too narrow; piped to a
file or a CI log, always `name: value` lines. No word or path is ever split across lines."""

from __future__ import annotations

import argparse
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from dockyard.cli import build, core, diagnose, scale, supply
from dockyard.cli.tables import Column, Listing, as_lines, cut, fitting_widths, show
from dockyard.diagnose.doctor import Check, Report
from dockyard.diagnose.explain import explain_log
from dockyard.engine.report import BuildReport, LayerRow
from dockyard.resolve.resolver import resolve
from dockyard.scale.state import Entry, State
from dockyard.spec.model import load
from dockyard.supply.audit import AuditReport
from dockyard.supply.audit import Check as AuditCheck
from dockyard.supply.debian import AptSize
from dockyard.supply.diff import Change, DiffReport, Side
from dockyard.supply.layout import PackageSize
from dockyard.supply.scan import Finding
from dockyard.verify.run import ProbeResult, VerifyReport

from ..diagnose.diagnose_helpers import LOGS

LONG_PATH = "/opt/venv/lib/python3.11/site-packages/transformers/models/llama/modeling_llama.py"
PROBES = VerifyReport("sha256:f48071b0edbb7dd550abac87046661490cbf0c7c439d50911a1de21e27795ce7", (
    ProbeResult("python version", True, "3.11", "3.11", "/opt/venv/bin/python"),
    ProbeResult("version transformers", True, "5.24.0", "5.24.0", ""),
    ProbeResult("import transformers.cli.serving.chat_completion", True, None, "ok", ""),
    ProbeResult("tiny model forward and generate", False, {"generated": 11, "logits": [1, 8, 128]},
                {"generated": 0}, f"RuntimeError: no kernel in {LONG_PATH}"),
), read_only=True, gpu=False)
LAYERS = BuildReport("cpu-inference", "sha256:f48071b0edbb7dd5", ["dockyard/cpu-inference:latest"], 817_800_000, [
    LayerRow(169_100_000, ""),
    LayerRow(1_800_000, "RUN |1 DEBIAN_FRONTEND=noninteractive /bin/sh -c rm -f /etc/apt/apt.conf.d/docker-clean "
                        "&& echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/keep-cache"),
    LayerRow(646_800_000, "COPY /opt/venv /opt/venv"),
], 10, 10, 78.0, "/root/.cache/dockyard/logs/cpu-inference-20261207-125612.log", "docker")
DOCTOR = Report((  # only the checks are printed
    Check("engine", "ok", "docker 20.10.24+dfsg1 at /usr/bin/docker, server 20.10.24+dfsg1, builds with BuildKit"),
    Check("disk", "warn", "18 GB free under /var/lib/docker (a CUDA image and its build cache take 20 GB)",
          "free space: docker builder prune --filter until=24h (drops only the build cache of earlier runs)"),
    Check("nvidia-driver", "skip", "no NVIDIA driver on this machine (nvidia-smi not found)"),
), facts=None)  # type: ignore[arg-type]
AUDIT = AuditReport(
    image="dockyard/cpu-serve:latest", image_id="sha256:9f3b5f3674a7020b", size=841_300_000, user="1000:1000",
    entrypoint=["/usr/bin/tini", "--"], cmd=["transformers", "serve"], healthcheck=None, labels={},
    layers=[{"size": 169_100_000, "instruction": ""}, {"size": 670_300_000, "instruction": "COPY /opt/venv /opt/venv"}],
    directories=[("/opt/venv", 670_300_000), ("/usr/lib", 77_300_000)],
    packages=[PackageSize("torch", "2.13.0+cpu", 447_300_000, "/opt/venv/lib/python3.11/site-packages"),
              PackageSize("transformers", "5.24.0", 59_400_000, "/opt/venv/lib/python3.11/site-packages")],
    apt=[AptSize("libssl3", "3.0.17-1", 5_900_000, ("python3-venv", "python3", "libpython3-stdlib",
                                                    "libpython3.11-stdlib", "libpython3.11-minimal"))],
    categories={"__pycache__": 77_900_000, "docs": 14_100_000}, compilers=[], setuid=[],
    findings=[Finding("private key", "layer 0 /usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3",
                      "-----BEGIN PRIVATE KEY-----… (158 characters)", "", "Debian package libgnutls30")],
    base_layers=1,
    checks=[AuditCheck("secrets", "ok", "none in any layer, the config or the history; 2 in files that still match "
                                        "their package's published hash (public content)")],
)

STATE = Path(tempfile.mkdtemp(prefix="dockyard-test-tables-")) / "matrix-state.json"
MATRIX = State(STATE, {e.digest: e for e in (
    Entry("sha256:" + "a" * 64, "cpu-inference", "cpu-inference", "done", "sha256:1",
          ("dockyard/cpu-inference:latest",), 78.0, "2026-12-07T12:57:48Z"),
    Entry("sha256:" + "b" * 64, "transformers-pytorch-deepspeed-latest-gpu",
          "transformers-pytorch-deepspeed-latest-gpu", "failed", seconds=1900.0, finished="2026-12-07T13:29:00Z",
          error="step [builder 6/9] RUN sh /run/dockyard/build-deepspeed.sh failed: nvcc fatal: Unsupported gpu "
                "architecture 'compute_60' (see /root/.cache/dockyard/logs/deepspeed-20261207.log)"),
)})
DIFF = DiffReport(Side("dockyard/cpu-inference:latest", "image", {"torch": "2.13.0+cpu"}, total=817_800_000),
                  Side("dockyard/cpu-serve:latest", "image", {"torch": "2.13.0+cpu"}, total=720_400_000),
                  [Change("fastapi", None, "0.165.0", None, 1_700_000, "added by the serving extra"),
                   Change("opentelemetry-api", None, "1.45.3", None, 427_100, "pulled in by huggingface-hub 2.4.0")],
                  unchanged=41)


def print_matrix_status() -> None:
    MATRIX._write()
    scale.cmd_matrix_status(argparse.Namespace(state=STATE, json=False))


def print_diff() -> None:
    import dockyard.supply.diff as diffing

    real = diffing.diff
    diffing.diff = lambda *args: DIFF  # type: ignore[assignment]
    try:
        supply.cmd_diff(argparse.Namespace(a="a.lock", b="b.lock", backend="auto", json=False, exit_code=False))
    finally:
        diffing.diff = real


PRINTERS: dict[str, Callable[[], None]] = {
    "matrix status": print_matrix_status,
    "diff": print_diff,
    "verify": lambda: build.print_verify(PROBES, quiet=False),
    "layers": lambda: build.print_report(LAYERS, quiet=False),
    "doctor": lambda: diagnose.print_report(DOCTOR, console=build.stdout),
    "check": lambda: show(core.plan_table(resolve(load("cpu-serve"))), build.stdout),
    "presets": lambda: core.cmd_presets(type("Args", (), {"json": False})()),  # type: ignore[arg-type]
    "explain": lambda: diagnose.print_explanation(explain_log((LOGS / "real/tls_cert.log").read_text()),
                                                  console=build.stdout),
    "audit": lambda: supply.print_audit(AUDIT, top=10),
}


@contextmanager
def printed_to(monkeypatch: pytest.MonkeyPatch, width: int, terminal: bool) -> Iterator[io.StringIO]:
    """Point every command module's consoles at one buffer of `width` columns."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system=None, highlight=False,
                      soft_wrap=True)
    for module in (build, core, diagnose, scale, supply):
        for name in ("stdout", "stderr"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, console)
    yield buffer


def words_of(text: str) -> set[str]:
    return {word.strip(":()[],'\"") for word in text.split()}


def split_words(output: str, source: str) -> list[str]:
    """Tokens of `output` that are not whole words of `source`: the pieces of a word split across lines.
    A token ending in … is a word cut short on purpose (one line, never continued on the next)."""
    known = words_of(source)
    broken = []
    for token in output.split():
        bare = token.strip(":()[],'\"")
        if not bare or bare in known or set(bare) <= set("─━│┃┏┓┗┛╇╈┡┩ -✓✗…!i"):
            continue
        if bare.endswith("…") and any(word.startswith(bare[:-1].strip(":()[],'\";")) for word in known):
            continue
        broken.append(token)
    return broken


def source_text(name: str) -> str:
    """Everything the printer may show, unwrapped: the data and the fixed words around it."""
    texts = []
    for terminal in (False, True):  # the lines, and the table with its headers on a very wide terminal
        with io.StringIO() as buffer:
            wide = Console(file=buffer, width=10_000, force_terminal=terminal, color_system=None, highlight=False,
                           soft_wrap=True)
            for module in (build, core, diagnose, scale, supply):
                for attribute in ("stdout", "stderr"):
                    if hasattr(module, attribute):
                        setattr(module, attribute, wide)
            try:
                PRINTERS[name]()
            finally:
                for module in (build, core, diagnose, scale, supply):
                    for attribute in ("stdout", "stderr"):
                        if hasattr(module, attribute):
                            setattr(module, attribute, ORIGINAL[(module.__name__, attribute)])
            texts.append(buffer.getvalue())
    return "\n".join(texts)


ORIGINAL = {(m.__name__, a): getattr(m, a) for m in (build, core, diagnose, scale, supply)
            for a in ("stdout", "stderr") if hasattr(m, a)}


@pytest.mark.parametrize("name", sorted(PRINTERS))
@pytest.mark.parametrize("width", [40, 80, 120])
def test_piped_tables_are_name_value_lines_with_no_word_split(name: str, width: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    source = source_text(name)
    with printed_to(monkeypatch, width, terminal=False) as buffer:
        PRINTERS[name]()
    output = buffer.getvalue()
    assert output.strip()
    assert not re.search("[│┃─━┏┗]", output), "no table rules when piped"
    assert split_words(output, source) == []


@pytest.mark.parametrize("name", sorted(PRINTERS))
@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_terminal_tables_fit_their_width_or_fall_back_to_lines(name: str, width: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    source = source_text(name)
    with printed_to(monkeypatch, width, terminal=True) as buffer:
        PRINTERS[name]()
    output = buffer.getvalue()
    assert split_words(output, source) == []
    prose = {line.strip() for line in source.splitlines()}  # summary lines: one logical line each, never cut
    drawn = [line for line in output.splitlines() if line.strip() not in prose]
    assert all(len(line.rstrip()) <= width for line in drawn), "a drawn table fits the terminal"


def test_the_issue_example_reads_whole_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verify table of the issue: "transformers" and "/opt/venv/bin/python" stay whole."""
    with printed_to(monkeypatch, 80, terminal=False) as buffer:
        build.print_verify(PROBES, quiet=False)
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("probes in sha256:f48071b0edbb7dd550abac8")
    assert "✓ python version" in lines and "  detail: /opt/venv/bin/python" in lines
    assert "✓ version transformers" in lines
    assert "✗ tiny model forward and generate" in lines
    assert f"  detail: RuntimeError: no kernel in {LONG_PATH}" in lines
    assert lines[-1] == "verify 3/4 probes passed (read-only root filesystem)"


def test_a_two_column_table_gives_one_name_value_line_per_row() -> None:
    listing = Listing((Column("size", key=True), Column("instruction", cut=True)), title="layers")
    listing.add("1.8 MB", "RUN apt-get install -y --no-install-recommends ca-certificates tini && rm -rf /var/lib")
    listing.add("646.8 MB", "COPY /opt/venv /opt/venv")
    lines = [line.plain for line in as_lines(listing, 60)]
    assert lines == ["layers", "1.8 MB: RUN apt-get install -y --no-install-recommends…",
                     "646.8 MB: COPY /opt/venv /opt/venv"]


def test_a_value_of_several_lines_continues_indented() -> None:
    listing = Listing((Column("key", key=True), Column("value")), show_header=False)
    listing.add("packages", "accelerate==1.15.0\nfastapi==0.165.0")
    assert [line.plain for line in as_lines(listing, 80)] == ["packages: accelerate==1.15.0", "  fastapi==0.165.0"]


def test_widths_give_every_column_its_longest_word_or_nothing() -> None:
    listing = Listing((Column("probe"), Column("detail")))
    listing.add("python version", LONG_PATH)
    assert fitting_widths(listing, 200) == [14, len(LONG_PATH)]
    widths = fitting_widths(listing, 100)
    assert widths is not None and widths[1] == len(LONG_PATH) and widths[0] >= len("version")
    assert fitting_widths(listing, 60) is None, "the path alone is wider than the room: lines instead"


def test_cut_stops_at_a_word() -> None:
    assert cut(Text("COPY /opt/venv /opt/venv"), 80).plain == "COPY /opt/venv /opt/venv"
    assert cut(Text("RUN apt-get install -y tini"), 16).plain == "RUN apt-get…"


def test_show_draws_a_table_on_a_wide_terminal() -> None:
    listing = Listing((Column("name", key=True), Column("value")), title="t")
    listing.add("python", "3.11")
    buffer = io.StringIO()
    show(listing, Console(file=buffer, width=80, force_terminal=True, color_system=None))
    assert "python  3.11" in buffer.getvalue()
    buffer = io.StringIO()
    show(listing, Console(file=buffer, width=80, color_system=None))
    assert buffer.getvalue().splitlines() == ["t", "python: 3.11"]

