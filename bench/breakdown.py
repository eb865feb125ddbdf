"""Where an image's bytes are, the same way for every image bench/size.py builds: Debian packages by the
bytes on disk (and what pulled each in), site-packages by distribution, and bytecode. It is
`dockyard audit`'s own reading of the saved image (dockyard.supply.audit), so the bench and the audit
agree by construction. DOCKYARD_BENCH_SAVE_DIR names another folder for the saved image (it needs
room for the largest image: /dev/shm when the disk is short)."""

from __future__ import annotations

from typing import Any

MB = 1e6


def breakdown(engine: Any, tag: str) -> dict[str, Any]:
    import os
    import tempfile

    from dockyard.engine.backends import backend_for
    from dockyard.engine.maps import load_maps
    from dockyard.errors import DockyardError
    from dockyard.supply.audit import audit_image

    saved_in = tempfile.tempdir  # `docker save` writes the whole image there first
    tempfile.tempdir = os.environ.get("DOCKYARD_BENCH_SAVE_DIR") or saved_in
    try:
        report = audit_image(backend_for(engine), tag, (), load_maps((), ()))
    except DockyardError as failed:  # e.g. no room for `docker save` on a shared disk: say so, go on
        return {"error": str(failed)[-300:]}
    finally:
        tempfile.tempdir = saved_in
    return {
        "apt_total": sum(p.size for p in report.apt),
        "apt": [[p.name, p.size, " > ".join(p.pulled_by)] for p in report.apt],
        "python_total": sum(p.size for p in report.packages),
        "python": [[p.name, p.size] for p in report.packages],
        "bytecode": report.categories.get("__pycache__", 0),
    }


def table(images: dict[str, tuple[str, dict[str, Any]]], top: int = 15) -> list[str]:
    """Side by side: each image's largest Debian and Python packages (bytecode counted apart)."""
    lines: list[str] = []
    for kind, title in (("apt", "Debian packages (bytes on disk; > what pulled them in)"),
                        ("python", "site-packages by distribution (bytecode included)")):
        lines += ["", title]
        for label, data in images.values():
            if "error" in data:
                lines.append(f"  {label}: not broken down: {data['error']}")
                continue
            lines.append(f"  {label}: {data[kind + '_total'] / MB:,.0f} MB in {len(data[kind])} packages"
                         + (f", of which bytecode {data['bytecode'] / MB:,.0f} MB" if kind == "python" else ""))
            for row in data[kind][:top]:
                chain = f"  < {row[2]}" if kind == "apt" and row[2] else ""
                lines.append(f"    {row[1] / MB:8.1f} MB  {row[0]}{chain[:110]}")
    return lines
