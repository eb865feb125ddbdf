"""Lint configuration files: `.dockyard-lint.toml`, or `[tool.dockyard.lint]` in pyproject.toml.

```toml
ignore = ["DY115", "DL3008"]
fail-level = "warning"        # error | warning | info
hadolint = "auto"             # auto | on | off
[severity]
DY109 = "error"
```
(in pyproject.toml the same keys go under `[tool.dockyard.lint]` and `[tool.dockyard.lint.severity]`).
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import Any

from dockyard.errors import InputError
from dockyard.lint.finding import SEVERITIES, Severity
from dockyard.lint.rules import RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_NAME = ".dockyard-lint.toml"
KEYS = ("ignore", "fail-level", "hadolint", "severity")
HADOLINT_MODES = ("auto", "on", "off")
_FOREIGN_CODE = re.compile(r"^(DL\d{4}|SC\d{4})$")


def _suggest(value: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else None


def check_code(code: str, where: str) -> str:
    """Validate a rule code (DYnnn of dockyard, DLnnnn/SCnnnn of hadolint); return it upper-cased."""
    upper = code.strip().upper()
    if upper in RULES or _FOREIGN_CODE.match(upper):
        return upper
    hint = _suggest(upper, sorted(RULES)) or "dockyard codes are DY000 and DY101-DY116; hadolint codes DLnnnn, SCnnnn"
    raise InputError(f"{where}: unknown rule code {code!r}", hint=hint)


def check_severity(value: object, where: str) -> Severity:
    if isinstance(value, str) and value in SEVERITIES:
        return value
    hint = _suggest(str(value), SEVERITIES) or "use error, warning or info"
    raise InputError(f"{where}: invalid severity {value!r}", hint=hint)


def check_hadolint(value: object, where: str) -> str:
    if isinstance(value, str) and value in HADOLINT_MODES:
        return value
    hint = _suggest(str(value), HADOLINT_MODES) or "use auto, on or off"
    raise InputError(f"{where}: invalid hadolint mode {value!r}", hint=hint)


def validate(table: dict[str, Any], source: str) -> dict[str, Any]:
    """Check keys and values; return the validated settings keyed like the file."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{source}: {key}"
        if key not in KEYS:
            hint = _suggest(key, KEYS) or f"known keys: {', '.join(KEYS)}"
            raise InputError(f"{source}: unknown key {key!r}", hint=hint)
        if key == "ignore":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{where}: must be a list of rule codes", hint='ignore = ["DY115"]')
            out["ignore"] = [check_code(v, where) for v in value]
        elif key == "fail-level":
            out["fail-level"] = check_severity(value, where)
        elif key == "hadolint":
            out["hadolint"] = check_hadolint(value, where)
        elif key == "severity":
            if not isinstance(value, dict):
                raise InputError(f"{where}: must be a table of CODE = severity", hint='[severity]\nDY109 = "error"')
            out["severity"] = {
                check_code(code, f"{where}.{code}"): check_severity(level, f"{where}.{code}")
                for code, level in value.items()
            }
    return out


def load(path: Path) -> dict[str, Any]:
    """Read a config file (a .dockyard-lint.toml or a pyproject.toml)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("dockyard", {}).get("lint", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise InputError(f"{path}: [tool.dockyard.lint] must be a table")
        return validate(table, f"{path} [tool.dockyard.lint]")
    return validate(data, str(path))


def find_config(start: Path) -> Path | None:
    """The nearest .dockyard-lint.toml, or pyproject.toml with [tool.dockyard.lint], from `start` up."""
    for folder in [start, *start.parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except OSError:
                continue
            if re.search(r"^\[tool\.dockyard\.lint(\.severity)?\]", text, re.M):
                return pyproject
    return None
