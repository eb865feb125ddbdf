"""The verify probe's add-on section: each probe from knowledge/addons.toml runs in its own interpreter
and is reported by name, failing ones with the tail of their error; GPU probes wait for --gpu; an image
that leaves transformers to its CI job must not carry one. Runs the real probe functions on this
interpreter with plans written as the image would get them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.knowledge.loader import Knowledge
from dockyard.verify import probe


@pytest.fixture(autouse=True)
def fresh_results() -> Iterator[None]:
    probe.RESULTS.clear()
    yield
    probe.RESULTS.clear()


def plan(*probes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"addon_probes": list(probes), **extra}


def test_passing_and_failing_probes_are_reported_by_name() -> None:
    probe.check_addons(plan(
        {"addon": "demo", "name": "imports json", "code": "import json", "gpu": False},
        {"addon": "demo", "name": "ops prebuilt", "code": "raise AssertionError('not prebuilt: cpu_adam')",
         "gpu": False},
        {"addon": "demo", "name": "on the GPU", "code": "raise SystemExit(1)", "gpu": True},
    ))
    results = {r["name"]: r for r in probe.RESULTS}
    assert set(results) == {"add-on demo: imports json", "add-on demo: ops prebuilt"}, "GPU probes wait for --gpu"
    assert results["add-on demo: imports json"]["ok"] is True
    failed = results["add-on demo: ops prebuilt"]
    assert failed["ok"] is False and "not prebuilt: cpu_adam" in failed["detail"]


def test_gpu_probes_run_with_gpu_only() -> None:
    probe.run_addon_probes(plan({"addon": "demo", "name": "matmul", "code": "pass", "gpu": True}), gpu=True)
    assert [r["name"] for r in probe.RESULTS] == ["add-on demo: matmul"]


def test_transformers_left_for_the_job_must_be_absent() -> None:
    probe.check_transformers_for_job({"transformers_for_job": True})
    (result,) = probe.RESULTS
    assert result["name"] == "transformers left for the CI job"
    assert result["ok"] is (probe.distribution_version("transformers") is None)
    probe.RESULTS.clear()
    probe.check_transformers_for_job({})
    assert probe.RESULTS == []


def test_every_addon_probe_in_the_knowledge_base_is_valid_python() -> None:
    for addon in Knowledge.load().addons.values():
        for check in addon.probes:
            compile(check.code, f"{addon.name}: {check.name}", "exec")
            assert check.name and not (check.gpu and not check.code.strip())
