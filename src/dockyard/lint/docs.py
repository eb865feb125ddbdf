"""Generate docs/rules/ (one page per rule plus an index) from the rule modules.

python -m dockyard.lint.docs            # write docs/rules/
python -m dockyard.lint.docs --check    # exit 1 when the committed pages differ
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from dockyard.lint.rules import RULES

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "docs" / "rules"
GENERATED = "<!-- Generated from src/dockyard/lint/rules/ by `python -m dockyard.lint.docs`; do not edit. -->"


def rule_page(rule: ModuleType) -> str:
    return (
        f"# {rule.CODE} {rule.NAME}\n\n{GENERATED}\n\n"
        "| code | name | default severity |\n|---|---|---|\n"
        f"| `{rule.CODE}` | `{rule.NAME}` | {rule.SEVERITY} |\n\n"
        f"**What is wrong:** {rule.MESSAGE}.\n\n**Fix:** {rule.FIX}\n\n"
        f"## Why and examples\n\n{rule.DOCS.rstrip()}\n\n"
        f"## Suppressing\n\nAbove the instruction: `# dockyard: ignore={rule.CODE}`; for the whole file: "
        f'`# dockyard: ignore-file={rule.CODE}`; everywhere: `ignore = ["{rule.CODE}"]` in the config file '
        f"or `--ignore {rule.CODE}`. See [../lint.md](../lint.md).\n"
    )


def index_page() -> str:
    rows = "\n".join(
        f"| [{code}]({code}.md) | `{rule.NAME}` | {rule.SEVERITY} | {rule.MESSAGE} |" for code, rule in RULES.items()
    )
    return (
        f"# dockyard lint rules\n\n{GENERATED}\n\n"
        "dockyard's own rules. hadolint's generic rules (DLxxxx, SCxxxx) are merged into the same output "
        "when hadolint is installed; see [../lint.md](../lint.md).\n\n"
        f"| code | name | default severity | what is wrong |\n|---|---|---|---|\n{rows}\n"
    )


def render() -> dict[str, str]:
    """File name -> content for the whole docs/rules/ folder."""
    pages = {f"{code}.md": rule_page(rule) for code, rule in RULES.items()}
    pages["README.md"] = index_page()
    return pages


def drift(folder: Path) -> list[str]:
    """Names of pages that are missing, stale or unexpected in `folder`."""
    expected = render()
    problems = []
    for name, content in expected.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            problems.append(name)
    if folder.is_dir():
        problems.extend(sorted(p.name for p in folder.glob("*.md") if p.name not in expected))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockyard.lint.docs", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="only report drift (exit 1 if any)")
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if args.check:
        stale = drift(folder)
        for name in stale:
            print(f"{folder / name}: out of date; run python -m dockyard.lint.docs", file=sys.stderr)
        return 1 if stale else 0
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in render().items():
        (folder / name).write_text(content, encoding="utf-8")
    for extra in drift(folder):
        (folder / extra).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
