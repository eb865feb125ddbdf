"""`dockyard doctor`: what this machine gives a container build, and what to fix.

Facts are gathered once through `Host` (host), whose every window on the machine can be replaced
so tests run doctor on recorded outputs; checks are plain functions of the facts (checks for the
engine, host and network, gpu for accelerators), each returning a `Check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.diagnose.capability import Capability, capability_check, gpu_capability
from dockyard.diagnose.checks import ENGINE_CHECKS
from dockyard.diagnose.facts import Facts, gather
from dockyard.diagnose.gpu import GPU_CHECKS
from dockyard.diagnose.host import STATUSES, Check, Host, Status, TlsProbe
from dockyard.diagnose.knowledge_age import check_knowledge

__all__ = ["CHECKS", "Check", "Facts", "Host", "Report", "Status", "TlsProbe", "run_doctor"]

CHECKS = (*ENGINE_CHECKS, *GPU_CHECKS)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    facts: Facts
    capability: Capability | None = None

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for c in self.checks if c.status == status) for status in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.failed, "counts": self.counts(), "checks": [c.to_dict() for c in self.checks],
                "facts": self.facts.to_dict(),
                "capability": None if self.capability is None else self.capability.to_dict()}


def run_doctor(host: Host | None = None, backend: str = "auto") -> Report:
    """Gather the facts and run every check. Raises InputError only for an unknown backend."""
    facts = gather(host or Host(), backend)
    capability = gpu_capability(facts)
    return Report((*(check(facts) for check in CHECKS), capability_check(capability), check_knowledge(facts.knowledge)),
                  facts, capability)
