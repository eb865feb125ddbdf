"""doctor's `hub` check (issue 22): whether a serve spec's `hub:` model can download at build time, from the
Hub or the mirror HF_ENDPOINT names, asked with a TCP connection and the short timeout."""

from __future__ import annotations

from diagnose_helpers import this_machine

from dockyard.diagnose.doctor import run_doctor


def hub_check(machine):  # type: ignore[no-untyped-def]
    return next(c for c in run_doctor(machine.host()).checks if c.name == "hub")


def test_an_unreachable_hub_is_a_warning_with_the_ways_around_it() -> None:
    check = hub_check(this_machine())
    assert check.status == "warn" and check.group == "network"
    assert "https://huggingface.co not reachable ([Errno -2] Name or service not known)" in check.detail
    assert "HF_ENDPOINT" in check.fix and "path:" in check.fix and "mount:" in check.fix


def test_the_mirror_hf_endpoint_names_is_asked() -> None:
    machine = this_machine()
    machine.env["HF_ENDPOINT"] = "http://mirror.example:8080/hub"
    asked: list[tuple[str, int, float]] = []
    host = machine.host()
    host.connect = lambda name, port, timeout: asked.append((name, port, timeout)) or ""  # type: ignore[func-returns-value]
    check = next(c for c in run_doctor(host).checks if c.name == "hub")
    assert check.status == "ok" and "http://mirror.example:8080/hub (HF_ENDPOINT) reachable" in check.detail
    assert ("mirror.example", 8080, host.timeout) in asked and host.timeout <= 5


def test_a_bad_hf_endpoint_is_named() -> None:
    machine = this_machine()
    machine.env["HF_ENDPOINT"] = "huggingface.co"
    check = hub_check(machine)
    assert check.status == "warn" and "is not an http(s) URL" in check.detail


def test_offline_skips_it() -> None:
    machine = this_machine()
    machine.network = False
    assert hub_check(machine).status == "skip"
