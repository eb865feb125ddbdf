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


def test_scheduling_and_sizing_rows() -> None:
    from dockyard.knowledge.deploy import policy, section_sources, sizing

    for target in TARGETS:
        facts = device_facts(target)
        assert all(t.key == facts.k8s_resource and t.effect == "NoSchedule" for t in facts.tolerations)
        assert bool(facts.tolerations) == bool(facts.k8s_resource), "a node with the resource carries its taint"
        assert facts.runtime_mib >= 512
    assert device_facts("cuda").shm == "1Gi" and device_facts("cpu").shm == ""
    assert sizing().weight_files[0] == "*.safetensors", "transformers prefers safetensors"
    assert "POD_SELECTOR" in policy().keda_query
    for section in ("resources", "shutdown", "spread", "autoscale", "kserve"):
        assert section_sources(section) and all(len(text) > 40 for text in section_sources(section))
