"""Render from a lock: every install hash-checked and unresolved, torch apart so its layer stays cached,
labels and plan.json with every locked version; a lock made for another spec is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dockerfile
import pytest

from dockyard.errors import InputError
from dockyard.render.blocks.common import RenderOptions
from dockyard.render.lockfile import Lock, parse
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from .conftest import LOCK_TEXT


def lock_for(ref: str) -> Lock:
    plan = resolve(load(ref))
    return replace(parse(LOCK_TEXT, "x.lock"), spec_digest=plan.digest, python=plan.python)


def test_a_lock_turns_every_install_into_a_hash_checked_one() -> None:
    lock = lock_for("cpu-inference")
    rendered = render(resolve(load("cpu-inference")), RenderOptions(lock=lock))
    text = rendered.dockerfile
    assert text.count("--require-hashes --no-deps") == 3, "torch, the other packages, transformers"
    assert "ARG TORCH_VERSION" not in text and "ARG TRANSFORMERS_VERSION" not in text, "versions come from the lock"
    assert "-r /run/dockyard/lock-torch.txt" in text and "--find-links /wheels" in text
    assert rendered.files["dockyard/lock-torch.txt"].startswith("# torch and its companions from the lock\ntorch==")
    assert "numpy==2.4.6" in rendered.files["dockyard/lock-packages.txt"]
    assert "\ntorch==" not in rendered.files["dockyard/lock-packages.txt"]
    assert "transformers==5.24.0" in rendered.files["dockyard/lock-transformers.txt"]
    assert f'dev.dockyard.lock-digest="{lock.digest()}"' in text
    assert "Locked:     3 packages" in text
    plan_json = rendered.files["dockyard/plan.json"]
    assert '"numpy": "2.4.6"' in plan_json and '"lock_digest"' in plan_json
    order = [text.index(f"lock-{part}.txt") for part in ("torch", "packages", "transformers")]
    assert order == sorted(order), "torch first: a transformers change keeps the torch layer"
    dockerfile.parse_string(text)


def test_without_a_lock_render_is_unchanged() -> None:
    plan = resolve(load("cpu-inference"))
    assert render(plan).files == render(plan, RenderOptions(lock=None)).files
    assert "--require-hashes" not in render(plan).dockerfile


def test_the_spec_key_reads_the_lock_beside_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[image]\nextends = "cpu-inference"\nname = "locked"\nlock = "locked.lock"\n')
    plan = resolve(load(str(spec)))
    (tmp_path / "locked.lock").write_text(replace(parse(LOCK_TEXT, "x"), spec_digest=plan.digest).format())
    assert "--require-hashes" in render(plan).dockerfile


def test_the_lock_key_does_not_change_the_spec_digest(tmp_path: Path) -> None:
    without = tmp_path / "a.toml"
    without.write_text('[image]\nextends = "cpu-inference"\nname = "same"\n')
    with_lock = tmp_path / "b.toml"
    with_lock.write_text('[image]\nextends = "cpu-inference"\nname = "same"\nlock = "b.lock"\n')
    assert load(str(without)).digest() == load(str(with_lock)).digest()


@pytest.mark.parametrize("problem", ["missing", "other spec", "other python"])
def test_a_lock_that_does_not_fit_is_refused(tmp_path: Path, problem: str) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[image]\nextends = "cpu-inference"\nlock = "spec.lock"\n')
    plan = resolve(load(str(spec)))
    lock = replace(parse(LOCK_TEXT, "x"), spec_digest=plan.digest)
    if problem == "other spec":
        lock = replace(lock, spec_digest="sha256:" + "0" * 64)
    if problem == "other python":
        lock = replace(lock, python="3.12")
    if problem != "missing":
        (tmp_path / "spec.lock").write_text(lock.format())
    with pytest.raises(InputError) as info:
        render(plan)
    expected = "cannot read" if problem == "missing" else "made for another spec"
    assert expected in info.value.message and "[image].lock" in info.value.message
    assert "dockyard lock" in (info.value.hint or "")
