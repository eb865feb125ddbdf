"""verify's secret-value probe: is any secret this build was given in the image it built?

Looked for: the value of every build secret (`--secret id=NAME,src=FILE|env=VAR`, the hub token
`hf_token`; a PEM key by a line of its body) and every value of the build's own environment (dockyard's
process: CI tokens, HF_TOKEN) that is token-shaped (spec/secrets.py `secret_in_value`) or sits in a
variable whose name looks secret. Looked in: every file of every layer of the saved image (also files
a later layer deleted), its config (environment, labels, command) and its history. The image is read,
never run, and the values never leave dockyard's process: nothing of a possibly hostile image sees them.

A hit fails verify; the result names the secret (its id or variable name) and where it is, never the
value. Without any value to look for, nothing is saved or read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from dockyard.engine.backends import Backend
from dockyard.spec.secrets import looks_secret, secret_in_value
from dockyard.supply.archive import Entry, Layer, read_archive, read_chunks, saved
from dockyard.supply.scan import Needle, StreamScanner, needles_from_value, scan_bytes
from dockyard.verify.run import ProbeResult, VerifyReport

CHECK = "no secret values in the image"
MIN_NAMED = 8  # a value under a secret-looking name shorter than this would match by chance


def leak_needles(secrets: Sequence[tuple[str, str]], environ: Mapping[str, str]) -> tuple[Needle, ...]:
    """What to look for: the build's secrets by id, the environment's token-shaped values by name."""
    found: dict[bytes, Needle] = {}
    for secret_id, value in secrets:
        for needle in needles_from_value(value, f"build secret {secret_id}"):
            found.setdefault(needle.data, needle)
    for name, value in sorted(environ.items()):
        if secret_in_value(value) or (looks_secret(name) and len(value.strip()) >= MIN_NAMED):
            for needle in needles_from_value(value, f"${name} of the build's environment"):
                found.setdefault(needle.data, needle)
    return tuple(found.values())


class _Hits:
    def __init__(self, needles: tuple[Needle, ...]) -> None:
        self.needles = needles
        self.where: list[str] = []

    def __call__(self, layer: Layer, entry: Entry, handle: IO[bytes]) -> None:
        scanner = StreamScanner(self.needles, formats=False)
        for chunk in read_chunks(handle):
            scanner.feed(chunk)
        self.where += [f"{label} in layer {layer.index} {entry.path}" for _, label in scanner.results()]


def find_leaks(backend: Backend, image: str, needles: tuple[Needle, ...]) -> list[str]:
    """`build secret hf_token in layer 7 /opt/model/notes.txt`, ... (never the value)."""
    if not needles:
        return []
    with saved(backend, image) as archive:
        return leaks_in_archive(archive, needles)


def leaks_in_archive(archive: Path, needles: tuple[Needle, ...]) -> list[str]:
    hits = _Hits(needles)
    config = read_archive(archive, hits).config
    body = {k: v for k, v in config.items() if k != "history"}
    hits.where += [f"{label} in the image config" for _, label in scan_bytes(json.dumps(body).encode(), needles,
                                                                             formats=False)]
    for step, entry in enumerate(config.get("history") or [], 1):
        text = str(entry.get("created_by", ""))
        hits.where += [f"{label} in history step {step}" for _, label in scan_bytes(text.encode(), needles,
                                                                                     formats=False)]
    return hits.where


def leak_check(backend: Backend, image: str, needles: tuple[Needle, ...]) -> ProbeResult | None:
    """The probe result (None when there is nothing to look for)."""
    if not needles:
        return None
    where = find_leaks(backend, image, needles)
    labels = sorted({n.label for n in needles})
    detail = (f"looked for {len(needles)} value(s) ({', '.join(labels)}) in every layer, the config and the history"
              if not where else "a secret of the build is in the image: rebuild without it (the value is not shown)")
    return ProbeResult(CHECK, not where, [], where, detail)


def with_leak_check(report: VerifyReport, result: ProbeResult | None) -> VerifyReport:
    if result is None:
        return report
    return VerifyReport(report.image, (*report.results, result), report.read_only, report.gpu)
