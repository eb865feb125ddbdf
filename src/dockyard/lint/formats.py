"""Output formats: text, JSON and SARIF 2.1.0. Pure functions from findings to strings/dicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from dockyard import __version__
from dockyard.lint.finding import Finding
from dockyard.lint.hadolint import help_uri
from dockyard.lint.rules import RULES

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def summary(findings: Sequence[Finding], files: int) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {
        "files": files,
        "findings": len(findings),
        "error": counts["error"],
        "warning": counts["warning"],
        "info": counts["info"],
    }


def printable(text: str) -> str:
    """Text from a linted file made safe for a terminal: control characters (ESC starts colour, title and
    hyperlink sequences) are shown as escapes (`\\x1b`), never sent as they are."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


def to_text(findings: Sequence[Finding]) -> str:
    """`path:line:col CODE severity message` lines, each followed by an indented fix."""
    lines = []
    for f in findings:
        lines.append(f"{printable(f.path)}:{f.line}:{f.column} {f.code} {f.severity} {printable(f.message)}")
        if f.fix:
            lines.append(f"    fix: {printable(f.fix)}")
    return "\n".join(lines) + ("\n" if lines else "")


def summary_line(findings: Sequence[Finding], files: int) -> str:
    s = summary(findings, files)
    noun = "file" if files == 1 else "files"
    if not findings:
        return f"{files} {noun} checked: no findings"
    return (
        f"{files} {noun} checked: {s['findings']} findings ({s['error']} error, {s['warning']} warning, "
        f"{s['info']} info)"
    )


def to_json(findings: Sequence[Finding], files: int) -> dict[str, Any]:
    return {"findings": [f.to_dict() for f in findings], "summary": summary(findings, files)}


def _rule_descriptor(code: str, finding: Finding | None) -> dict[str, Any]:
    rule = RULES.get(code)
    if rule is not None:
        level = _SARIF_LEVEL.get(rule.SEVERITY, "warning")
        return {
            "id": code,
            "name": rule.NAME,
            "shortDescription": {"text": rule.MESSAGE},
            "fullDescription": {"text": rule.MESSAGE},
            "help": {"text": rule.FIX, "markdown": rule.DOCS},
            "defaultConfiguration": {"level": level},
            "properties": {"tags": ["dockerfile", "ml"]},
        }
    text = finding.message if finding else code
    return {
        "id": code,
        "shortDescription": {"text": text},
        "helpUri": help_uri(code),
        "properties": {"tags": ["dockerfile", "hadolint"]},
    }


def _uri(path: str) -> str:
    posix = PurePath(path).as_posix()
    return posix[2:] if posix.startswith("./") else posix


def to_sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run (tool: dockyard; hadolint's rules included as DL/SC ids)."""
    codes = sorted(set(RULES) | {f.code for f in findings})
    first: dict[str, Finding] = {}
    for f in findings:
        first.setdefault(f.code, f)
    rules = [_rule_descriptor(code, first.get(code)) for code in codes]
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f"{f.message}" + (f" Fix: {f.fix}" if f.fix else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ],
        }
        if f.source != "dockyard":
            result["properties"] = {"source": f.source}
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dockyard",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
