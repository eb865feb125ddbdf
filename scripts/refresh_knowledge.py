#!/usr/bin/env python3
"""Refresh everything PyPI can tell dockyard's knowledge base, and say what it cannot.

Writes, in the knowledge folder (src/dockyard/knowledge, or --knowledge DIR):
- pins.toml: for every package listed in PACKAGES, the newest release whose wheels (or sdist) admit each
  supported Python minor, and what that release requires of torch (its METADATA); and the uv release
  used to install Python in images whose base lacks it (wheel URL and sha256);
- releases.toml: every release of the packages knowledge.toml [tracked] names (the torch family and
  transformers): upload day, Requires-Python, torch requirement, extras, CUDA of PyPI's Linux build,
  yanks;
- knowledge.toml `refreshed`: today.
Then it compares the curated tables with those rows and prints the findings: rows to add (with the TOML
when PyPI tells enough, else what to read and where), and the known gaps (knowledge.toml [[gap]]).
Review the diff before committing: a new release line needs a human look.

    python scripts/refresh_knowledge.py            # write the tables, print the findings
    python scripts/refresh_knowledge.py --check    # exit 1 if a table is out of date or a finding is new
    python scripts/refresh_knowledge.py --only NAME [NAME ...]
                                                   # query only these packages of pins.toml, keep every other row
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from dockyard.knowledge import folder as knowledge_folder
from dockyard.knowledge import freshness, pypi, releases
from dockyard.knowledge.loader import Knowledge
from dockyard.knowledge.serving import serve_knowledge

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
KNOWLEDGE = Path(__file__).resolve().parents[1] / "src" / "dockyard" / "knowledge"
OUT = KNOWLEDGE / "pins.toml"

# Packages dockyard pins when a spec, modality, extra or preset asks for them. Add a name here, rerun.
PACKAGES = sorted({
    "accelerate", "albumentations", "av", "blobfile", "datasets", "diffusers", "einops", "evaluate",
    "fugashi", "ftfy", "g2p-en", "gitpython", "hf-doc-builder", "intel-openmp", "ipadic", "jiwer",
    "kernels", "librosa", "mistral-common", "ninja", "nltk", "num2words", "onnxruntime", "onnxscript",
    "opencv-python-headless", "optimum", "packaging", "parameterized", "peft", "phonemizer", "pillow",
    "protobuf", "psutil", "pyctcdecode", "pypi-kenlm", "pytesseract", "pytest", "pytest-random-order",
    "pytest-rerunfailures", "pytest-timeout", "pytest-xdist", "python-levenshtein", "python-multipart",
    "rhoknp", "rjieba", "ruff", "sacremoses", "scikit-learn", "sentencepiece", "seqeval", "setuptools",
    "soundfile", "soxr", "spacy", "sudachidict-core", "sudachipy", "tiktoken", "timm", "torch-stft",
    "unidic", "unidic-lite", "wheel",
    # add-ons (their torch pairing lives in addons.toml; the Python ceiling comes from here)
    "auto-round", "bitsandbytes", "compressed-tensors", "deepspeed", "flash-attn", "gguf", "gptqmodel",
    "hqq", "optimum-quanto", "torchao", "torch-xla",
    # what presets keep of transformers' images (their fidelity records)
    "amd-quark", "decord", "fp-quant", "mpi4py", "onnx", "sentence-transformers", "trl",
    # every other PyPI package transformers' docker/ originals install (reference/transformers-docker),
    # so a preset drops one only for a fact about it, never because dockyard cannot pin it
    "dataset", "essentia", "fire", "fouroversix", "galore-torch", "hf-transfer", "importlib-metadata",
    "invisible-watermark", "itsdangerous", "jupyter", "kenlm", "levenshtein", "liger-kernel", "mergekit", "nose",
    "numpy", "onnxruntime-gpu", "opencv-python", "pandas", "pretty-midi", "pybind11", "pytorch-msssim",
    "requests-mock", "resampy", "rouge-score", "sacrebleu", "schedulefree", "scipy", "torchdata", "triton",
    "urllib3",
    # transformers' `serving` extra (the serve profile; knowledge/serve.toml)
    "fastapi", "openai", "pydantic", "rich", "starlette", "uvicorn",
})
UV_VERSION_SOURCE = "uv"


def fetch(name: str) -> dict[str, Any]:
    return pypi.project(name, timeout=60)


def metadata_reader(document: dict[str, Any]) -> Callable[[str], dict[str, list[str]] | None]:
    """version -> the METADATA fields of one of its Linux x86_64 (or pure) wheels, None without a wheel."""
    def read(version: str) -> dict[str, list[str]] | None:
        url = pypi.release_wheel(document, version)
        if url is None:
            return None
        files = pypi.wheel_files(url, [".dist-info/METADATA"])
        text = next((body for name, body in files.items() if name.count("/") == 1), None)
        return pypi.metadata(text) if text is not None else None
    return read


def admits(requires_python: str | None, python: str) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(f"{python}.0")
    except InvalidSpecifier:
        return True


def wheel_admits(filename: str, python: str) -> bool:
    """A binary wheel's tags must include this CPython (or abi3/py3 for any)."""
    if not filename.endswith(".whl"):
        return True
    tags = filename[:-4].split("-")[-3:]
    py_tag, abi_tag, platform = tags
    if "linux" not in platform and platform != "any":
        return False
    if "x86_64" not in platform and platform != "any":
        return False
    cp = "cp" + python.replace(".", "")
    return py_tag.startswith("py") or cp in py_tag.split(".") or (
        abi_tag == "abi3" and int(py_tag.split(".")[0][2:] or 0) <= int(cp[2:]))


def newest_per_python(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    releases = data.get("releases", {})
    versions = []
    for text, files in releases.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if not files or all(f.get("yanked") for f in files):
            continue
        versions.append((version, files))
    finals = [(v, f) for v, f in versions if not (v.is_prerelease or v.is_devrelease)]
    # A package that has never made a final release (essentia publishes only 2.1b6.devN builds) is pinned
    # to its newest pre-release; every other package only ever to a final release.
    versions = finals or versions
    versions.sort(key=lambda item: item[0], reverse=True)
    result: dict[str, dict[str, Any]] = {}
    for python in PYTHONS:
        for version, files in versions:
            usable = [f for f in files if not f.get("yanked") and admits(f.get("requires_python"), python)
                      and (f["packagetype"] == "sdist" or wheel_admits(f["filename"], python))]
            if usable:
                result[python] = {
                    "version": str(version),
                    "wheel": any(f["packagetype"] == "bdist_wheel" for f in usable),
                }
                break
    return result


def canonical_file_url(url: str) -> str:
    """PyPI file URLs as files.pythonhosted.org serves them (some mirrors answer with relative URLs)."""
    return pypi.file_url(url)


def torch_requirement(document: dict[str, Any], version: str) -> str:
    """What a release requires of torch (unconditionally), from its wheel's METADATA; "" if nothing."""
    fields = metadata_reader(document)(version)
    requirements = []
    for line in (fields or {}).get("Requires-Dist", []):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) == "torch" and "extra" not in str(requirement.marker or ""):
            requirements.append(requirement)
    return str(requirements[0].specifier) if requirements else ""


def with_torch(pins: dict[str, dict[str, dict[str, Any]]], datas: dict[str, dict[str, Any]],
               current: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Add each pinned wheel's torch requirement (kept from `current` when its version did not change)."""
    todo = sorted({(name, row["version"]) for name, rows in pins.items() for row in rows.values() if row["wheel"]})
    known = {(name, row["version"]): row["torch"] for name, rows in current.items() for row in rows.values()
             if row.get("torch")}
    fresh = [item for item in todo if item not in known]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        found = dict(zip(fresh, pool.map(lambda item: torch_requirement(datas[item[0]], item[1]), fresh), strict=True))
    requirement = {**known, **found}
    for name, rows in pins.items():
        for row in rows.values():
            if row["wheel"] and requirement.get((name, row["version"])):
                row["torch"] = requirement[(name, row["version"])]


def uv_wheel(data: dict[str, Any]) -> dict[str, str]:
    version = data["info"]["version"]
    for f in data["urls"]:
        if f["filename"].endswith("manylinux_2_17_x86_64.manylinux2014_x86_64.whl"):
            return {"version": version, "url": canonical_file_url(f["url"]), "sha256": f["digests"]["sha256"]}
    raise SystemExit("no manylinux x86_64 wheel for uv found")


def toml_string(value: str) -> str:
    return json.dumps(value)


def render(pins: dict[str, dict[str, dict[str, Any]]], uv: dict[str, str]) -> str:
    lines = [
        "# Generated by scripts/refresh_knowledge.py from PyPI's JSON API; do not edit by hand.",
        f"# Queried {dt.date.today().isoformat()}. For each package: the newest release that installs on",
        "# each Python (requires-python and wheel tags for Linux x86_64); `sdist = true` where only a source",
        "# distribution fits, i.e. the install compiles or at least builds; `torch` what that release",
        "# requires of torch (its wheel's METADATA). transformers' releases are in releases.toml.",
        "",
        "[uv]",
        f"version = {toml_string(uv['version'])}",
        f"url = {toml_string(uv['url'])}",
        f"sha256 = {toml_string(uv['sha256'])}",
        "",
    ]
    for name in sorted(pins):
        lines.append(f"[package.{name}]")
        for python, row in sorted(pins[name].items(), key=lambda kv: Version(kv[0])):
            sdist = "" if row["wheel"] else ", sdist = true"
            torch = f", torch = {toml_string(row['torch'])}" if row.get("torch") else ""
            lines.append(f'"{python}" = {{ version = {toml_string(row["version"])}{sdist}{torch} }}')
        lines.append("")
    return "\n".join(lines)


def current_pins(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    if not path.exists():
        return {}
    current = tomllib.loads(path.read_text())
    return {name: {py: {"version": row["version"], "wheel": not row.get("sdist", False),
                        **({"torch": row["torch"]} if row.get("torch") else {})} for py, row in rows.items()}
            for name, rows in current.get("package", {}).items()}


def release_rows(folder: Path, documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, releases.Release]]:
    """releases.toml's rows from the index: METADATA of the releases the folder does not know yet."""
    manifest = knowledge_folder.manifest(folder)
    path = folder / "releases.toml"
    current = releases.parse(tomllib.loads(path.read_text())) if path.exists() else {}
    rows = {}
    for name, spec in sorted(manifest.tracked.items()):
        tracked = releases.Tracked(name, str(spec["floor"]), tuple(spec["fields"]))
        rows[name] = releases.from_index(tracked, documents[name], metadata_reader(documents[name]),
                                         current.get(name))
    return rows


def undated(text: str) -> str:
    """A generated file without the lines that carry the day it was made."""
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith(("# Queried", "refreshed = ")))


def set_refreshed(folder: Path, day: dt.date) -> None:
    path = folder / knowledge_folder.MANIFEST
    text = re.sub(r'^refreshed = "[0-9-]+"$', f'refreshed = "{day.isoformat()}"', path.read_text(), count=1,
                  flags=re.MULTILINE)
    path.write_text(text)


def report(found: list[freshness.Finding]) -> int:
    """Print the findings; the number that are not acknowledged gaps."""
    new = [f for f in found if not f.acknowledged]
    for finding in sorted(found, key=lambda f: (bool(f.acknowledged), f.key)):
        label = "known gap" if finding.acknowledged else "to add"
        print(f"[{label}] {finding.key}: {finding.table}", file=sys.stderr)
        print(f"    {finding.text}", file=sys.stderr)
        for line in finding.row.splitlines():
            print(f"    | {line}", file=sys.stderr)
    print(f"{len(new)} finding(s) to act on, {len(found) - len(new)} known gap(s) (knowledge.toml [[gap]])",
          file=sys.stderr)
    return len(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a generated table would change or a finding is not a known gap")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="query only these packages (listed in PACKAGES)")
    parser.add_argument("--knowledge", metavar="DIR", type=Path, default=KNOWLEDGE,
                        help="the knowledge folder to refresh (default: this checkout's src/dockyard/knowledge)")
    args = parser.parse_args()
    folder: Path = args.knowledge.resolve()
    pins_path = folder / "pins.toml"
    if args.only:
        return refresh_only([str(canonicalize_name(n)) for n in args.only], pins_path)
    names = [str(canonicalize_name(n)) for n in PACKAGES]
    tracked = sorted(knowledge_folder.manifest(folder).tracked)
    wanted = sorted({*names, *tracked, UV_VERSION_SOURCE})
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            datas = dict(zip(wanted, pool.map(fetch, wanted), strict=True))
        pins = {name: newest_per_python(datas[name]) for name in names}
        with_torch(pins, datas, current_pins(pins_path))
        pins_text = render(pins, uv_wheel(datas[UV_VERSION_SOURCE]))
        rows = release_rows(folder, datas)
    except pypi.IndexUnavailable as exc:
        print(f"the index did not answer: {exc}", file=sys.stderr)
        return 1
    releases_text = releases.render(rows, dt.date.today())
    generated = {pins_path: pins_text, folder / "releases.toml": releases_text}
    stale = [path for path, text in generated.items()
             if not path.exists() or undated(path.read_text()) != undated(text)]
    if not args.check:
        for path, text in generated.items():
            path.write_text(text)
        set_refreshed(folder, dt.date.today())
        print(f"wrote {pins_path} ({len(pins)} packages) and {folder / 'releases.toml'} "
              f"({sum(len(r) for r in rows.values())} releases of {len(rows)} packages)", file=sys.stderr)
    knowledge = Knowledge.from_folder(folder)
    gaps = list(tomllib.loads((folder / knowledge_folder.MANIFEST).read_text()).get("gap", []))
    new = report(freshness.findings(knowledge, rows, serve_knowledge(folder), gaps))
    if args.check and stale:
        print(f"out of date: {', '.join(str(p) for p in stale)}; run scripts/refresh_knowledge.py", file=sys.stderr)
    return 1 if args.check and (stale or new) else 0


def refresh_only(names: list[str], path: Path = OUT) -> int:
    """Query `names` and rewrite pins.toml with every other row (and the query date) as it was."""
    unknown = [n for n in names if n not in {str(canonicalize_name(p)) for p in PACKAGES}]
    if unknown:
        print(f"not in PACKAGES: {', '.join(unknown)}; add them there first", file=sys.stderr)
        return 2
    current_text = path.read_text()
    current = tomllib.loads(current_text)
    pins = current_pins(path)
    datas = {name: fetch(name) for name in names}
    for name in names:
        pins[name] = newest_per_python(datas[name])
    with_torch(pins, datas, current_pins(path))
    text = render(pins, current["uv"])
    queried = next(line for line in current_text.splitlines() if line.startswith("# Queried"))
    text = "\n".join(queried if line.startswith("# Queried") else line for line in text.splitlines()) + "\n"
    path.write_text(text)
    print(f"wrote {path} ({len(names)} packages queried)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
