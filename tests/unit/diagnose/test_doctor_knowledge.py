"""doctor's knowledge check from recorded index answers: the knowledge's age, releases newer than it or
yanked since, and an index that does not answer (offline-safe: a finding, never a doctor failure)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from diagnose_helpers import this_machine

from dockyard.diagnose.doctor import run_doctor

INDEX = Path(__file__).resolve().parents[1] / "knowledge" / "index"
TRACKED = ("torch", "torchao", "torchaudio", "torchcodec", "torchvision", "transformers")


def recorded() -> dict[str, dict[str, Any]]:
    return {name: json.loads((INDEX / f"{name}.json").read_text()) for name in TRACKED}


def knowledge_check(index: dict[str, dict[str, Any]], today: dt.date = dt.date(2026, 12, 7),
                    network: bool = True) -> tuple[Any, dict[str, Any]]:
    machine = this_machine()
    machine.index, machine.today, machine.network = index, today, network
    report = run_doctor(machine.host())
    check = next(c for c in report.checks if c.name == "knowledge")
    return check, report.to_dict()["facts"]["knowledge"]


def test_an_up_to_date_knowledge_is_ok_with_its_age() -> None:
    check, facts = knowledge_check(recorded())
    assert check.status == "ok" and check.group == "knowledge"
    assert "refreshed from PyPI on 2026-12-07, 0 day(s) ago" in check.detail
    newest = "PyPI has no newer release of torch, torchao, torchaudio, torchcodec, torchvision, transformers"
    assert newest in check.detail
    assert facts["age_days"] == 0 and facts["newer"] == [] and facts["index_error"] is None


def test_newer_and_yanked_releases_are_reported_with_how_to_refresh() -> None:
    index = copy.deepcopy(recorded())
    index["torch"]["releases"]["2.16.0"] = [{"filename": "torch-2.16.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                                             "packagetype": "bdist_wheel", "upload_time": "2027-01-20T15:00:00",
                                             "yanked": False}]
    for file in index["transformers"]["releases"]["5.25.0"]:
        file["yanked"], file["yanked_reason"] = True, "broken"
    check, facts = knowledge_check(index, today=dt.date(2027, 1, 22))
    assert check.status == "warn"
    assert "torch 2.16.0 (uploaded 2027-01-20) is newer than the knowledge base (newest known 2.15.0)" in check.detail
    assert "transformers 5.25.0 was yanked on PyPI (broken) after the knowledge was refreshed" in check.detail
    assert "46 day(s) ago" in check.detail
    assert "scripts/refresh_knowledge.py" in check.fix and "--knowledge DIR" in check.fix
    assert len(facts["newer"]) == 2


def test_an_index_that_does_not_answer_still_reports_the_age() -> None:
    check, facts = knowledge_check({})
    assert check.status == "ok"
    assert "not checked: the index did not answer (torch: https://pypi.org/pypi/torch/json" in check.detail
    old, _ = knowledge_check({}, today=dt.date(2027, 3, 1))
    assert old.status == "warn" and "84 day(s) ago" in old.detail and "refresh_knowledge.py" in old.fix
    offline, facts = knowledge_check(recorded(), network=False)
    assert offline.status == "ok" and "not checked: PyPI not asked (--offline)" in offline.detail
    assert facts["asked"] == []


def test_a_knowledge_older_than_the_threshold_warns_even_when_nothing_is_newer() -> None:
    check, _ = knowledge_check(recorded(), today=dt.date(2027, 2, 1))
    assert check.status == "warn" and "older than 45 days" in check.detail
