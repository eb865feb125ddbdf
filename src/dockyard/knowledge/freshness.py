"""Is the knowledge base behind the index? Pure functions of the curated tables and release rows.

`findings` compares the curated tables (torch.toml, modalities.toml, addons.toml, serve.toml) with the
release rows PyPI gives (releases.toml, or rows just read by a refresh) and says what to add: a
`proposal` carries the TOML row when the index tells enough, else the facts to look up and where they
live. A finding whose key knowledge.toml lists as a [[gap]] is an acknowledged gap: still shown, no
longer a failure. `newer_on_index` is doctor's quick look: releases newer than the knowledge, and
releases yanked since it was refreshed, from each project's JSON document alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from dockyard.knowledge.loader import Knowledge
from dockyard.knowledge.releases import Release, final_versions, newest
from dockyard.knowledge.serving import ServeKnowledge

Rows = Mapping[str, Mapping[str, Release]]

WHERE_VARIANTS = ("the wheel variants (cpu, cuXYZ, rocmX.Y, xpu) of the release: pytorch/test-infra "
                  "tools/scripts/generate_binary_build_matrix.py at its 'Release X go live' commit, pytorch/pytorch "
                  "RELEASE.md 'Release Compatibility Matrix', or the index pages download.pytorch.org/whl/<variant>/"
                  "torch/; then each CUDA variant's compiled archs (cuda.toml [[archs]]: RELEASE.md 'CUDA Support "
                  "Matrix', or torch.cuda.get_arch_list() of the wheel), a new CUDA minor's driver (cuda.toml "
                  "[drivers]) and base image tags (cuda.toml [[variant]], rocm.toml)")


@dataclass(frozen=True)
class Finding:
    key: str  # stable name, e.g. "torch 2.16", "serve 5.26.0": knowledge.toml [[gap]] rows name it
    table: str  # the file and row to change
    text: str  # what the index says and what to do
    row: str = ""  # the TOML to add, when the index tells enough
    acknowledged: str = ""  # the [[gap]] row's note, when the knowledge lists it as a known gap


def findings(k: Knowledge, rows: Rows, serve: ServeKnowledge,
             gaps: list[dict[str, Any]] | None = None) -> list[Finding]:
    found = [*_torch(k, rows), *_variants(k), *_companions(k, rows), *_torchcodec(k, rows), *_torchao(k, rows),
             *_serve(rows, serve), *_addon_floors(k)]
    known = {str(g["key"]): str(g["note"]) for g in gaps or []}
    return [Finding(f.key, f.table, f.text, f.row, known.get(f.key, "")) for f in found]


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _same_day(a: Release, b: Release) -> bool:
    return abs((_day(a.uploaded) - _day(b.uploaded)).days) <= 1


def _requires(row: Release, torch: str) -> bool:
    try:
        return not row.torch or SpecifierSet(row.torch).contains(torch, prereleases=True)
    except InvalidSpecifier:
        return False


def _paired(rows: Rows, package: str, torch: Release) -> Release | None:
    """The release of a torch companion uploaded with `torch` (within a day) whose requirement admits it."""
    candidates = [r for r in rows.get(package, {}).values()
                  if r.yanked is None and _same_day(r, torch) and _requires(r, torch.version)]
    return max(candidates, key=lambda r: r.key) if candidates else None


def _cuda_variant(cuda: str) -> str:
    parts = cuda.split(".")
    return f"cu{parts[0]}{parts[1]}" if len(parts) >= 2 else ""


def _torch(k: Knowledge, rows: Rows) -> list[Finding]:
    found: list[Finding] = []
    by_minor: dict[str, list[Release]] = {}
    for row in rows.get("torch", {}).values():
        by_minor.setdefault(f"{row.key.major}.{row.key.minor}", []).append(row)
    curated = {r.minor: r for r in k.torch_releases}
    for minor, releases in sorted(by_minor.items(), key=lambda item: Version(item[0])):
        live = sorted((r for r in releases if r.yanked is None), key=lambda r: r.key)
        release = curated.get(minor)
        if release is None:
            if live:
                found.append(_new_torch_minor(rows, minor, live))
            continue
        for row in releases:
            if row.yanked is not None and row.version in release.patches:
                found.append(Finding(f"torch {row.version} yanked", f"torch.toml [[release]] minor {minor}",
                                     f"PyPI yanked torch {row.version} ({row.yanked or 'no reason given'}): "
                                     "remove it from patches"))
        missing = [r for r in live if r.version not in release.patches]
        for row in missing:
            patches = _list([*release.patches, row.version])
            found.append(Finding(f"torch {row.version}", f"torch.toml [[release]] minor {minor}",
                                 f"torch {row.version} is on PyPI (uploaded {row.uploaded}) but not in patches; add "
                                 "it, with its torchvision pair", row=f"patches = {patches}"))
        if live and live[-1].wheels and list(release.python) != list(live[-1].wheels):
            found.append(Finding(f"torch {minor} python", f"torch.toml [[release]] minor {minor}",
                                 f"torch {live[-1].version} has Linux x86_64 wheels for Python "
                                 f"{', '.join(live[-1].wheels)} on PyPI; the row says {', '.join(release.python)}",
                                 row=f"python = {_list(live[-1].wheels)}"))
        default = _cuda_variant(live[-1].cuda) if live else ""
        if default and default != release.pypi_default:
            found.append(Finding(f"torch {minor} pypi_default", f"torch.toml [[release]] minor {minor}",
                                 f"PyPI's Linux build of torch {live[-1].version} pins CUDA {live[-1].cuda} "
                                 f"({default}); the row says pypi_default = {release.pypi_default!r}",
                                 row=f'pypi_default = "{default}"'))
    return found


def _variants(k: Knowledge) -> list[Finding]:
    return [Finding(f"torch {r.minor} variants", f"torch.toml [[release]] minor {r.minor}",
                    f"only {', '.join(r.variants()) or 'no variant'} of torch {r.minor} is known (variants_known = "
                    f"false): read {WHERE_VARIANTS}")
            for r in k.torch_releases if not r.variants_known]


def _new_torch_minor(rows: Rows, minor: str, live: list[Release]) -> Finding:
    default = _cuda_variant(live[-1].cuda)
    vision = {r.version: p.version for r in live if (p := _paired(rows, "torchvision", r))}
    audio = {r.version: p.version for r in live if (p := _paired(rows, "torchaudio", r))}
    row = "\n".join([
        "[[release]]", f'minor = "{minor}"', f"patches = {_list([r.version for r in live])}",
        f'released = "{live[0].uploaded[:7]}"', f"python = {_list(live[-1].wheels)}",
        f"cuda = {_list([default] if default else [])}", "rocm = []", "xpu = false", "cpu = false",
        "variants_known = false", f'pypi_default = "{default}"', f"torchvision = {_table(vision)}",
        f"torchaudio = {_table(audio)}", 'sources = ["pypi"]'])
    return Finding(f"torch {minor}", "torch.toml [[release]]",
                   f"torch {live[-1].version} (uploaded {live[0].uploaded}) has no row. PyPI gives the patches, "
                   "the Python wheels, the CUDA of its Linux build and the companions uploaded with it (the row "
                   f"below); still to read: {WHERE_VARIANTS}; a torchcodec pair (modalities.toml [torchcodec])",
                   row=row)


def _companions(k: Knowledge, rows: Rows) -> list[Finding]:
    """torchvision/torchaudio pairs of the curated torch rows against the companions' torch requirements."""
    found: list[Finding] = []
    for release in k.torch_releases:
        for patch in release.patches:
            torch = rows.get("torch", {}).get(patch)
            for package, pairs in (("torchvision", release.torchvision), ("torchaudio", release.torchaudio)):
                known = rows.get(package, {})
                if patch in pairs:
                    companion = known.get(pairs[patch])
                    if companion is not None and not _requires(companion, patch):
                        found.append(Finding(f"{package} {pairs[patch]} for torch {patch}",
                                             f"torch.toml [[release]] minor {release.minor} {package}",
                                             f"{package} {companion.version} requires torch {companion.torch} "
                                             f"(PyPI metadata), which excludes torch {patch}"))
                elif torch is not None and (paired := _paired(rows, package, torch)) is not None:
                    found.append(Finding(f"{package} for torch {patch}",
                                         f"torch.toml [[release]] minor {release.minor} {package}",
                                         f"{package} {paired.version} was uploaded with torch {patch} "
                                         f"({paired.uploaded}) and requires torch {paired.torch or '(any)'}: pair "
                                         "it, after an import in a built image proves it",
                                         row=f'"{patch}" = "{paired.version}"'))
    return found


def _torchcodec(k: Knowledge, rows: Rows) -> list[Finding]:
    found = []
    paired = {Version(v) for v in k.torchcodec.values()}
    newest_paired = max(paired) if paired else Version("0")
    for row in rows.get("torchcodec", {}).values():
        if row.yanked is None and row.key > newest_paired:
            found.append(Finding(f"torchcodec {row.version}", "modalities.toml [torchcodec]",
                                 f"torchcodec {row.version} (uploaded {row.uploaded}) pairs with no torch minor; its "
                                 "wheels declare no torch requirement: read the compatibility table of "
                                 "meta-pytorch/torchcodec's README and add the pair"))
    for release in k.torch_releases:
        if release.minor not in k.torchcodec and Version(release.minor) >= Version("2.5"):
            found.append(Finding(f"torchcodec for torch {release.minor}", "modalities.toml [torchcodec]",
                                 f"no torchcodec pairs with torch {release.minor}: read meta-pytorch/torchcodec's "
                                 "README compatibility table (video then uses PyAV only)"))
    return found


def _torchao(k: Knowledge, rows: Rows) -> list[Finding]:
    addon = k.addons.get("torchao")
    listed = {Version(v) for v, _ in addon.releases} if addon else set()
    top = max(listed) if listed else Version("0")
    return [Finding(f"torchao {row.version}", "addons.toml [[addon.torchao.release]]",
                    f"torchao {row.version} (uploaded {row.uploaded}) has no row; its wheels declare no torch: read "
                    "the torch minimum its C++ extensions load with (torchao/__init__.py) and add the row")
            for row in rows.get("torchao", {}).values() if row.yanked is None and row.key > top]


def _serve(rows: Rows, serve: ServeKnowledge) -> list[Finding]:
    top = newest(rows.get("transformers", {}))
    if top is None or serve.covers(top.version):
        return []
    return [Finding(f"serve {top.version}", "serve.toml [[cli]]",
                    f"transformers {top.version} (uploaded {top.uploaded}) is newer than every serve.toml row: read "
                    f"its serve CLI and routes with `python scripts/serve_routes.py {top.version}` and extend the "
                    "newest row or add one (serve images of that release are refused until then)")]


def _addon_floors(k: Knowledge) -> list[Finding]:
    """An add-on whose curated torch bound admits a torch release its pinned version's metadata excludes."""
    found = []
    torch_versions = [v for v, _ in k.torch_versions()]
    for addon in k.addons.values():
        if not addon.pip or addon.releases:
            continue
        bound = SpecifierSet(addon.torch) if addon.torch else SpecifierSet()
        for python, pin in sorted((k.pins.get(addon.pip) or {}).items()):
            declared = str(pin.get("torch", ""))
            if not declared:
                continue
            excluded = [v for v in torch_versions if bound.contains(v) and not SpecifierSet(declared).contains(v)]
            if excluded:
                found.append(Finding(f"{addon.name} torch", f"addons.toml [addon.{addon.name}] torch",
                                     f"{addon.pip} {pin['version']} (the pin for Python {python}) requires torch "
                                     f"{declared} (PyPI metadata), but the row admits torch {min(excluded)}",
                                     row=f'torch = "{declared}"'))
                break
    return found


def newer_on_index(k: Knowledge, documents: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What the index has that the knowledge lacks: newer final releases, and releases yanked since."""
    found = []
    for name, document in sorted(documents.items()):
        known = k.releases.get(name, {})
        floor = str((k.manifest.tracked.get(name) or {}).get("floor", "0")) if k.manifest else "0"
        top = newest(known)
        for version, files in final_versions(document, floor):
            if all(f.get("yanked") for f in files):
                row = known.get(str(version))
                if row is not None and row.yanked is None:
                    reason = next((str(f["yanked_reason"]) for f in files if f.get("yanked_reason")), "no reason given")
                    found.append(f"{name} {version} was yanked on PyPI ({reason.strip()}) after the knowledge was "
                                 "refreshed")
                continue
            if top is None or version > top.key:
                uploaded = min(str(f.get("upload_time") or "")[:10] for f in files)
                found.append(f"{name} {version} (uploaded {uploaded}) is newer than the knowledge base "
                             f"(newest known {top.version if top else 'none'})")
    return found


def _list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _table(pairs: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f'"{a}" = "{b}"' for a, b in pairs.items()) + " }" if pairs else "{}"
