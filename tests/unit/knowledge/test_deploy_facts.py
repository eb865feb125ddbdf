"""knowledge/deploy.toml: a row for every target, each with its sources, and the facts the outputs use."""

from __future__ import annotations

import pytest

from dockyard.errors import InputError
from dockyard.knowledge.deploy import deploy_targets, device_facts
from dockyard.spec.fields import TARGETS


def test_a_row_per_target() -> None:
    assert deploy_targets() == tuple(sorted(TARGETS))
    for target in TARGETS:
        facts = device_facts(target)
        assert facts.sources and all(len(source) > 20 for source in facts.sources)


@pytest.mark.parametrize(("target", "resource", "accelerated"), [
    ("cpu", "", False), ("intel-cpu", "", False), ("cuda", "nvidia.com/gpu", True), ("rocm", "amd.com/gpu", True),
    ("xpu", "gpu.intel.com/i915", True), ("tpu", "google.com/tpu", True),
])
def test_resources(target: str, resource: str, accelerated: bool) -> None:
    facts = device_facts(target)
    assert facts.k8s_resource == resource and facts.accelerated is accelerated


def test_unknown_target_names_the_table() -> None:
    with pytest.raises(InputError, match=r"knowledge/deploy\.toml"):
        device_facts("quantum")
