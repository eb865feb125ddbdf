"""Trim raw logs from make_real_logs.sh into fixtures: `python3 trim_logs.py RAW_DIR OUT_DIR`.

Drops BuildKit's `#N sha256:<digest>` lines and pip's download progress bars, keeps only the last redraw
of apt's "(Reading database ..." counter, and replaces the resolver address the machine's DNS errors name
with a documentation address (192.0.2.53). Nothing else changes: the lines the tests match are verbatim.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RESOLVER = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}:53\b")


def trim(text: str) -> str:
    out = []
    for line in text.split("\n"):
        if "(Reading database" in line:
            prefix = re.match(r"^(#\d+ [\d.]+ )?", line)
            line = (prefix.group(1) if prefix and prefix.group(1) else "") + \
                "(Reading database ... " + line.rsplit("(Reading database ... ", 1)[-1]
        if re.match(r"^#\d+ sha256:[0-9a-f]{64}$", line) or "━━" in line:
            continue
        out.append(RESOLVER.sub("192.0.2.53:53", line))
    return "\n".join(out)


def main(raw: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(raw.glob("*.log")):
        (dest / path.name).write_bytes(trim(path.read_bytes().decode("utf-8", "replace")).encode())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
