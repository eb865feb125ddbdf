"""docs/doctor.md documents every doctor check and every explain signature."""

from __future__ import annotations

from pathlib import Path

from diagnose_helpers import this_machine

from dockyard.diagnose.doctor import run_doctor
from dockyard.diagnose.signatures import SIGNATURES

DOC = Path(__file__).resolve().parents[3] / "docs" / "doctor.md"


def test_doctor_docs_list_every_check_and_signature() -> None:
    text = DOC.read_text()
    for check in run_doctor(this_machine().host()).checks:
        assert f"| `{check.name}` |" in text, check.name
    for signature in SIGNATURES:
        assert f"### `{signature.id}`: {signature.title}" in text, signature.id
        assert f"- **Cause**: {signature.cause}\n" in text, signature.id
        assert f"- **Fix**: {signature.fix}\n" in text, signature.id
        if signature.dockyard:
            assert f"- **With dockyard**: {signature.dockyard}\n" in text, signature.id
