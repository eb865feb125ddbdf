"""Doctor's look at the knowledge base: how old it is, and whether the index has releases it lacks.

The index is asked only when doctor may use the network, each project once, in parallel, with doctor's
short timeout; no answer is a finding (the age is still reported), never a failure of doctor.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dockyard.diagnose.host import Check, Host, Status
from dockyard.knowledge.folder import REFRESH_HINT
from dockyard.knowledge.freshness import newer_on_index
from dockyard.knowledge.loader import Knowledge

OFFLINE = "not asked (--offline)"
STALE_DAYS = 45  # older than this, the knowledge is reported stale even when the index cannot be asked


def index_answers(host: Host, names: list[str]) -> tuple[dict[str, dict[str, Any]], str]:
    """Each project's JSON document, and the first error ("" when every project answered)."""
    if not host.network:
        return {}, OFFLINE
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        answers = dict(zip(names, pool.map(lambda name: host.index(name, host.timeout), names), strict=True))
    documents = {name: answer for name, answer in answers.items() if isinstance(answer, dict)}
    errors = [f"{name}: {answer}" for name, answer in answers.items() if isinstance(answer, str)]
    return documents, errors[0] if errors else ""


def gather_knowledge(host: Host) -> dict[str, Any]:
    """What the knowledge check reports (also `facts.knowledge` of `dockyard doctor --json`)."""
    k = Knowledge.load()
    if k.manifest is None:  # pragma: no cover - a loaded knowledge folder always has its manifest
        return {}
    documents, error = index_answers(host, sorted(k.manifest.tracked))
    today = host.today()
    return {"folder": str(k.manifest.folder), "version": k.manifest.version,
            "refreshed": k.manifest.refreshed.isoformat(), "age_days": k.manifest.age_days(today),
            "newer": newer_on_index(k, documents) if documents else [], "index_error": error or None,
            "asked": sorted(documents)}


def check_knowledge(facts: dict[str, Any]) -> Check:
    if not facts:
        return Check("knowledge", "skip", "no knowledge manifest", group="knowledge")
    age = int(facts["age_days"])
    detail = f"knowledge {facts['version']} ({facts['folder']}), refreshed from PyPI on {facts['refreshed']}, " \
             f"{age} day(s) ago"
    if facts["newer"]:
        return Check("knowledge", "warn", f"{detail}; on PyPI since: " + "; ".join(facts["newer"]),
                     f"specs asking for these releases are refused until the knowledge has them: {REFRESH_HINT}",
                     group="knowledge")
    if facts["index_error"]:
        status: Status = "warn" if age > STALE_DAYS else "ok"
        why = "PyPI not asked (--offline)" if facts["index_error"] == OFFLINE else \
            f"the index did not answer ({facts['index_error']})"
        return Check("knowledge", status, f"{detail}; newer releases not checked: {why}",
                     REFRESH_HINT if status == "warn" else "", group="knowledge")
    if age > STALE_DAYS:
        return Check("knowledge", "warn", f"{detail}; PyPI has nothing newer of {', '.join(facts['asked'])}, "
                     f"but curated facts older than {STALE_DAYS} days may be", REFRESH_HINT, group="knowledge")
    return Check("knowledge", "ok", f"{detail}; PyPI has no newer release of {', '.join(facts['asked'])}",
                 group="knowledge")
