"""The lazy command table: `dockyard --help` lists every command with the help its module registers,
and running one command imports only its own group."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import import_module

import pytest

from dockyard.cli import COMMANDS, build_parser


@pytest.mark.parametrize("module_name", sorted(COMMANDS))
def test_table_matches_what_each_module_registers(module_name: str) -> None:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    import_module(module_name).register(subparsers)
    registered = {action.dest: action.help for action in subparsers._choices_actions}
    assert registered == COMMANDS[module_name]


def test_full_and_lazy_parsers_list_the_same_commands() -> None:
    def listed(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return [(a.dest, a.help) for a in action._choices_actions]

    assert listed(build_parser()) == listed(build_parser(["--version"]))


def test_a_command_imports_only_its_own_group() -> None:
    code = ("import sys; from dockyard.cli import main\n"
            "try:\n    main(['lint', '--hadolint', 'off', '-'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('dockyard.cli.')))")
    result = subprocess.run([sys.executable, "-c", code], input="FROM scratch\n", capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "['dockyard.cli.lint', 'dockyard.cli.output']"


def test_version_imports_no_command_module() -> None:
    code = ("import sys; from dockyard.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('dockyard.') and m != 'dockyard.errors'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "['dockyard.cli']"
