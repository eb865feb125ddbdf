"""The coverage matrix: every cell the knowledge base claims possible resolves, and the cells that do
not resolve say why."""

from __future__ import annotations

import pytest

from dockyard.knowledge.loader import Knowledge
from dockyard.knowledge.serving import serve_knowledge
from dockyard.resolve.coverage import Cell, cell, cells, claimed
from dockyard.spec.fields import PROFILES

K = Knowledge.load()
CELLS = cells(K)


def served(target: str, profile: str) -> bool:
    """transformers serve runs on the target (knowledge/serve.toml [device]); other profiles run anywhere."""
    return profile != "serve" or bool(serve_knowledge().devices.get(target))


@pytest.mark.parametrize("found", [c for c in CELLS if claimed(K, c.target, c.addon) and served(c.target, c.profile)],
                         ids=lambda c: f"{c.target}-{c.profile}-{c.addon or c.modality or 'none'}")
def test_every_claimed_combination_resolves(found: Cell) -> None:
    assert found.plan is not None, found.reason


def test_serve_where_the_server_has_no_device_is_refused_with_the_fact() -> None:
    refused = [c for c in CELLS if claimed(K, c.target, c.addon) and not served(c.target, c.profile)]
    assert refused, "some target has no serve device"
    for found in refused:
        assert found.plan is None and "transformers serve has no default device" in found.reason


def test_the_matrix_covers_every_target_profile_addon_and_modality() -> None:
    assert len(CELLS) == len(K.targets) * (len(PROFILES) * (len(K.addons) + 1) + len(K.modalities))


def test_unclaimed_cells_are_refused_with_the_fact() -> None:
    refused = [c for c in CELLS if not claimed(K, c.target, c.addon)]
    assert refused, "some add-on is not supported somewhere"
    for found in refused:
        assert found.plan is None
        assert f"{found.addon} is not supported on target {found.target}" in found.reason


def test_a_cell_shows_what_resolves() -> None:
    found = cell(K, "rocm", "runtime", "deepspeed")
    assert found.text() == ("torch 2.14.1 (rocm7.2), Python 3.14, `ubuntu:24.04`, "
                            "builder `rocm/dev-ubuntu-24.04:7.2-complete`")
