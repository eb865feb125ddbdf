"""The builder's installer settings (knowledge/python.toml [installer.env]): every row carries its why and
source, and every preset's builder stage sets them before its first `pip install` and only there, so an
sdist-only package (seqeval 1.2.2) is built through PEP 517, whose isolated build environment installs
`setup_requires` with their dependencies (tests/engine builds examples-torch-here to prove it)."""

from __future__ import annotations

from pathlib import Path

import dockerfile
import pytest
import tomllib

import dockyard.knowledge
from dockyard.knowledge.loader import Knowledge, preset_names
from dockyard.render.blocks.common import RenderOptions
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

PYTHON_TOML = Path(dockyard.knowledge.__file__).parent / "python.toml"


def test_every_installer_setting_has_a_value_a_why_and_a_source() -> None:
    rows = tomllib.loads(PYTHON_TOML.read_text(encoding="utf-8"))["installer"]["env"]
    assert rows, "python.toml [installer.env] is empty"
    for name, row in rows.items():
        assert name.isupper() and name.startswith("PIP_"), name
        assert set(row) == {"value", "why", "source"}, (name, sorted(row))
        assert all(str(row[key]).strip() for key in row), name


def test_loader_reads_the_rows_sorted() -> None:
    env = Knowledge.load().installer_env
    assert ("PIP_USE_PEP517", "1") in env
    assert list(env) == sorted(env)


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> (instruction, its text) of a rendered Dockerfile."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for command in dockerfile.parse_string(text):
        if command.cmd.upper() == "FROM":
            current = command.value[-1]
        out.setdefault(current, []).append((command.cmd.upper(), command.original))
    return out


@pytest.mark.parametrize("preset", preset_names())
def test_builder_sets_the_installer_env_before_its_first_pip_install_and_runtime_does_not(preset: str) -> None:
    plan = resolve(load(preset))
    assert plan.installer_env == Knowledge.load().installer_env
    by_stage = stages(render(plan, RenderOptions()).dockerfile)
    builder = by_stage["builder"]
    first_pip = next(i for i, (cmd, text) in enumerate(builder) if cmd == "RUN" and "pip install" in text)
    env_before = " ".join(text for cmd, text in builder[:first_pip] if cmd == "ENV")
    for name, value in plan.installer_env:
        assert f'{name}="{value}"' in env_before, (preset, name)
        assert not any(name in text for _, text in by_stage["runtime"]), (preset, name)
