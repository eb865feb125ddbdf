#!/usr/bin/env python3
"""Refresh the PyPI-derived tables of dockyard's knowledge base.

Writes src/dockyard/knowledge/pins.toml: for every package listed in PACKAGES, the newest release
whose wheels (or sdist) admit each supported Python minor, from PyPI's JSON API; and the uv release
used to install Python in images whose base lacks it (wheel URL and sha256). Review the diff before
committing: a new major release may need a human look.

    python scripts/refresh_knowledge.py            # write pins.toml
    python scripts/refresh_knowledge.py --check    # exit 1 if pins.toml is out of date
    python scripts/refresh_knowledge.py --only NAME [NAME ...]
                                                   # query only these packages, keep every other row
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
OUT = Path(__file__).resolve().parents[1] / "src" / "dockyard" / "knowledge" / "pins.toml"

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
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=60) as response:
        data: dict[str, Any] = json.load(response)
        return data


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
    match = re.search(r"([0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)$", url)
    return f"https://files.pythonhosted.org/packages/{match.group(1)}" if match else url


def uv_wheel(data: dict[str, Any]) -> dict[str, str]:
    version = data["info"]["version"]
    for f in data["urls"]:
        if f["filename"].endswith("manylinux_2_17_x86_64.manylinux2014_x86_64.whl"):
            return {"version": version, "url": canonical_file_url(f["url"]), "sha256": f["digests"]["sha256"]}
    raise SystemExit("no manylinux x86_64 wheel for uv found")


def toml_string(value: str) -> str:
    return json.dumps(value)


def release_versions(data: dict[str, Any], minimum: str) -> list[str]:
    """Final, non-yanked releases at or above `minimum`, oldest first."""
    found = []
    for text, files in data.get("releases", {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease or version < Version(minimum):
            continue
        if files and not all(f.get("yanked") for f in files):
            found.append(version)
    return [str(v) for v in sorted(found)]


def render(pins: dict[str, dict[str, dict[str, Any]]], uv: dict[str, str], transformers: list[str]) -> str:
    lines = [
        "# Generated by scripts/refresh_knowledge.py from PyPI's JSON API; do not edit by hand.",
        f"# Queried {dt.date.today().isoformat()}. For each package: the newest release that installs on",
        "# each Python (requires-python and wheel tags for Linux x86_64); `sdist = true` where only a source",
        "# distribution fits, i.e. the install compiles or at least builds.",
        "",
        "[uv]",
        f"version = {toml_string(uv['version'])}",
        f"url = {toml_string(uv['url'])}",
        f"sha256 = {toml_string(uv['sha256'])}",
        "",
        "# Every final transformers release since 4.40 (ranges of Python and torch support: transformers.toml).",
        "[transformers]",
        "versions = [",
        *(f"    {toml_string(v)}," for v in transformers),
        "]",
        "",
    ]
    for name in sorted(pins):
        lines.append(f"[package.{name}]")
        for python, row in sorted(pins[name].items(), key=lambda kv: Version(kv[0])):
            sdist = "" if row["wheel"] else ", sdist = true"
            lines.append(f'"{python}" = {{ version = {toml_string(row["version"])}{sdist} }}')
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if pins.toml would change")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="query only these packages (listed in PACKAGES)")
    args = parser.parse_args()
    if args.only:
        return refresh_only([str(canonicalize_name(n)) for n in args.only])
    names = [str(canonicalize_name(n)) for n in PACKAGES]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        datas = dict(zip(names, pool.map(fetch, names), strict=True))
    pins = {name: newest_per_python(data) for name, data in datas.items()}
    transformers = release_versions(fetch("transformers"), "4.40.0")
    text = render(pins, uv_wheel(fetch(UV_VERSION_SOURCE)), transformers)
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        strip = lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("# Queried"))  # noqa: E731
        if strip(current) != strip(text):
            print(f"{OUT} is out of date; run scripts/refresh_knowledge.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(pins)} packages)")
    return 0


def refresh_only(names: list[str]) -> int:
    """Query `names` and rewrite pins.toml with every other row (and the query date) as it was."""
    import tomllib

    unknown = [n for n in names if n not in {str(canonicalize_name(p)) for p in PACKAGES}]
    if unknown:
        print(f"not in PACKAGES: {', '.join(unknown)}; add them there first", file=sys.stderr)
        return 2
    current_text = OUT.read_text()
    current = tomllib.loads(current_text)
    pins = {name: {py: {"version": row["version"], "wheel": not row.get("sdist", False)} for py, row in rows.items()}
            for name, rows in current["package"].items()}
    for name in names:
        pins[name] = newest_per_python(fetch(name))
    text = render(pins, current["uv"], current["transformers"]["versions"])
    queried = next(line for line in current_text.splitlines() if line.startswith("# Queried"))
    text = "\n".join(queried if line.startswith("# Queried") else line for line in text.splitlines()) + "\n"
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(names)} packages queried)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
