"""`python -m dockyard.diagnose [--offline]`: doctor's JSON report (what `dockyard doctor --json` prints)
with nothing but dockyard's code and `packaging` (tomli too on Python 3.10): no rich, no dockerfile.
scripts/device-check.sh uses it on machines where dockyard is not installed. Exit 0, or 1 when a
check failed."""

from __future__ import annotations

import json
import sys

from dockyard.diagnose.doctor import Host, run_doctor


def main(argv: list[str]) -> int:
    report = run_doctor(Host(network="--offline" not in argv))
    sys.stdout.write(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
