"""Which accelerator a base image targets, which torch wheel variant an install gets, which GPU
architectures a CUDA toolkit compiles for: judged from names, with small tables and their sources.
Lint's accelerator rules (DY101, DY103, DY105, DY113, DY114) and resolve's check of an explicit `base`
both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version as PackagingVersion

from dockyard.knowledge import archs
from dockyard.knowledge.loader import Knowledge

Version = tuple[int, int | None]  # (major, minor); minor None when only the major is known


@dataclass(frozen=True)
class Accelerator:
    kind: str  # "cuda", "rocm", "xpu", "tpu" or "cpu"
    version: Version | None = None
    image: str = ""
    flavor: str = ""  # "devel", "runtime", "base" where the tag says so

    def describe(self) -> str:
        if self.version is None:
            return {"cpu": "CPU-only"}.get(self.kind, self.kind.upper())
        major, minor = self.version
        return f"{self.kind.upper() if self.kind != 'rocm' else 'ROCm'} {major}" + (
            f".{minor}" if minor is not None else ""
        )


@dataclass(frozen=True)
class WheelVariant:
    kind: str  # "cuda", "rocm", "xpu" or "cpu"
    version: Version | None
    label: str  # "cu126", "rocm6.2.4", "cpu", "xpu" or "" when unknown
    source: str  # "index", "local version", "torch backend", "PyPI default"

    def describe(self) -> str:
        return self.label or f"a {self.kind} build"


# -- base images ----------------------------------------------------------------------------------
# Tag schemes: compat.yaml nvidia_cuda.container_images (nvidia/cuda:{x.y.z}-{flavor}-{os}),
# amd_rocm.rocm_dev_image ({ROCM}[-complete]) and amd_rocm.rocm_pytorch_image
# (rocm{ROCM}_ubuntu.._py.._pytorch_release_..), intel.deep_learning_essentials_image,
# google_tpu.base_images.

_CPU_IMAGES = {
    "python",
    "debian",
    "ubuntu",
    "alpine",
    "buildpack-deps",
    "fedora",
    "rockylinux",
    "almalinux",
    "centos",
    "amazonlinux",
    "continuumio/miniconda3",
    "continuumio/anaconda3",
    "condaforge/miniforge3",
    "condaforge/mambaforge",
    "mambaorg/micromamba",
    "ghcr.io/astral-sh/uv",
    "cgr.dev/chainguard/python",
    "gcr.io/distroless/python3",
    "gcr.io/distroless/python3-debian12",
    "gcr.io/distroless/cc-debian12",
}
_XPU_IMAGES = {"intel/deep-learning-essentials", "intel/oneapi-basekit", "intel/oneapi-runtime"}
_TPU_IMAGES = {"us-central1-docker.pkg.dev/tpu-pytorch-releases/docker/xla", "gcr.io/tpu-pytorch/xla"}

# NGC framework containers (nvcr.io/nvidia/pytorch:YY.MM-py3): CUDA major by release. Source: NVIDIA
# "PyTorch Release Notes" per release (e.g. 20.06 = CUDA 11.0, 23.01 = CUDA 12.0, 25.12 = CUDA 13.1)
# and the Frameworks Support Matrix. Only the major is used; minors vary month to month.
_NGC_CUDA_MAJOR: tuple[tuple[tuple[int, int], int], ...] = (
    ((25, 8), 13),
    ((23, 1), 12),
    ((20, 6), 11),
    ((0, 0), 10),
)


def split_image(image: str) -> tuple[str, str]:
    """`docker.io/library/python:3.11-slim@sha256:..` -> (`python`, `3.11-slim`)."""
    ref = image.strip().split("@", 1)[0]
    name, tag = ref, ""
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    name = name.lower()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = name.removeprefix("library/")
    return name, tag


def _ver(match: re.Match[str] | None) -> Version | None:
    return (int(match.group(1)), int(match.group(2))) if match else None


def _flavor(tag: str) -> str:
    for flavor in ("devel", "runtime", "base"):
        if re.search(rf"(^|-){flavor}(-|$)", tag):
            return flavor
    return ""


def base_accelerator(image: str) -> Accelerator | None:
    """The accelerator a base image targets, or None when the image is unknown or unresolved."""
    name, tag = split_image(image)
    if not name or "$" in name:
        return None
    concrete_tag = "$" not in tag
    version: Version | None = None
    if name in ("nvidia/cuda", "nvcr.io/nvidia/cuda"):
        version = _ver(re.match(r"(\d+)\.(\d+)", tag)) if concrete_tag else None
        return Accelerator("cuda", version, image, _flavor(tag))
    if name.startswith("nvcr.io/nvidia/"):
        ngc = re.match(r"(\d{2})\.(\d{2})", tag) if concrete_tag else None
        if ngc:
            release = (int(ngc.group(1)), int(ngc.group(2)))
            version = next((major, None) for start, major in _NGC_CUDA_MAJOR if release >= start)
        return Accelerator("cuda", version, image, _flavor(tag))
    if name == "pytorch/pytorch":
        if "cpu" in tag.split("-"):
            return Accelerator("cpu", None, image)
        return Accelerator("cuda", _ver(re.search(r"cuda(\d+)\.(\d+)", tag)), image, _flavor(tag))
    if name.startswith("rocm/"):
        if name.startswith("rocm/dev-"):
            version = _ver(re.match(r"(\d+)\.(\d+)", tag)) if concrete_tag else None
        else:
            version = _ver(re.search(r"rocm(\d+)\.(\d+)", tag)) if concrete_tag else None
        return Accelerator("rocm", version, image)
    if name in _XPU_IMAGES or (name == "intel/intel-extension-for-pytorch" and "xpu" in tag):
        return Accelerator("xpu", None, image, _flavor(tag))
    if name in _TPU_IMAGES:
        if "cuda" in tag:
            return Accelerator("cuda", _ver(re.search(r"cuda_(\d+)\.(\d+)", tag)), image)
        return Accelerator("tpu", None, image)
    if name in _CPU_IMAGES or (name.rsplit("/", 1)[-1] == "python" and "cuda" not in tag):
        return Accelerator("cpu", None, image)
    return None


# -- torch wheel variants -------------------------------------------------------------------------
# Index layout: compat.yaml pytorch.wheel_index (https://download.pytorch.org/whl/{variant}, /whl/test/,
# /whl/nightly/; variant cpu | cuXYZ | rocmX.Y[.Z] | xpu); local versions +cpu/+cuXYZ/+rocmX.Y/+xpu.

_INDEX_VARIANT = re.compile(r"/whl/(?:nightly/|test/)?(cpu|cu\d{2,3}|rocm\d+(?:\.\d+)*|xpu)(?:/|$|\b)")
_LOCAL_VARIANT = re.compile(r"\+(cpu|cu\d{2,3}|rocm\d+(?:\.\d+)*|xpu)\b")

# PyPI's default Linux x86_64 torch wheel per minor: torch 2.1 and newer from dockyard's knowledge base
# (torch.toml pypi_default); 1.10-2.0 from the PyTorch "previous versions" install pages.
OLDER_PYPI_DEFAULT_CUDA: dict[tuple[int, int], str] = {
    (1, 10): "cu102",
    (1, 11): "cu102",
    (1, 12): "cu102",
    (1, 13): "cu117",
    (2, 0): "cu117",
}


def pypi_default_cuda(minor: tuple[int, int]) -> str:
    for release in Knowledge.load().torch_releases:
        if release.minor == f"{minor[0]}.{minor[1]}":
            return release.pypi_default
    return OLDER_PYPI_DEFAULT_CUDA.get(minor, "")


def variant_from_label(label: str, source: str) -> WheelVariant:
    label = label.lower()
    if label.startswith("cu") and label[2:].isdigit() and len(label) >= 4:
        digits = label[2:]
        return WheelVariant("cuda", (int(digits[:-1]), int(digits[-1])), label, source)
    if label.startswith("rocm"):
        match = re.match(r"rocm(\d+)(?:\.(\d+))?", label)
        version: Version | None = None
        if match:
            version = (int(match.group(1)), int(match.group(2)) if match.group(2) else None)
        return WheelVariant("rocm", version, label, source)
    if label in ("cpu", "xpu"):
        return WheelVariant(label, None, label, source)
    return WheelVariant("unknown", None, label, source)


def variant_from_index(url: str) -> WheelVariant | None:
    match = _INDEX_VARIANT.search(url)
    return variant_from_label(match.group(1), "index") if match else None


def variant_from_local(spec: str) -> WheelVariant | None:
    match = _LOCAL_VARIANT.search(spec)
    return variant_from_label(match.group(1), "local version") if match else None


def torch_minor(specifier: str) -> tuple[int, int] | None:
    """`==2.6.0`, `==2.6.*`, `~=2.6.0`, `===2.6.0+cu126` -> (2, 6); ranges and no pin -> None."""
    match = re.search(r"(?:===|==|~=)\s*v?(\d+)\.(\d+)", specifier)
    return (int(match.group(1)), int(match.group(2))) if match else None


def pypi_default(specifier: str) -> WheelVariant:
    """The CUDA build PyPI serves for this torch pin (its version unknown when torch is not pinned)."""
    minor = torch_minor(specifier)
    label = pypi_default_cuda(minor) if minor else ""
    return variant_from_label(label, "PyPI default") if label else WheelVariant("cuda", None, "", "PyPI default")


# -- CUDA architectures ---------------------------------------------------------------------------
# Which toolkit compiles for which capability is dockyard's knowledge base (cuda.toml [[gpu]]: first
# CUDA that knows the arch, last major that keeps it), with archs.toolkit_supports' rules.
NAMED_ARCHS: dict[str, list[str]] = {  # torch.utils.cpp_extension named arches (compat.yaml named_arches)
    "kepler+tesla": ["3.7"],
    "kepler": ["3.5"],
    "maxwell+tegra": ["5.3"],
    "maxwell": ["5.0", "5.2"],
    "pascal": ["6.0", "6.1"],
    "volta+tegra": ["7.2"],
    "volta": ["7.0"],
    "turing": ["7.5"],
    "ampere+tegra": ["8.7"],
    "ampere": ["8.0", "8.6"],
    "ada": ["8.9"],
    "hopper": ["9.0"],
    "blackwell+tegra": ["11.0"],
    "blackwell": ["10.0", "10.3", "12.0", "12.1"],
}
# ROCm gfx targets with the first ROCm that supports them (compat.yaml amd_rocm.gfx_targets "since").
ROCM_ARCHS: dict[str, tuple[int, int]] = {"gfx942": (6, 0), "gfx950": (7, 0)}


def split_arch_list(value: str) -> list[str]:
    return [a for a in re.split(r"[;\s,]+", value.strip().strip("'\"")) if a]


def unsupported_cuda_archs(value: str, cuda: tuple[int, int]) -> list[str]:
    """Entries of a TORCH_CUDA_ARCH_LIST that the given CUDA toolkit cannot compile for."""
    gpus = Knowledge.load().cuda_gpus
    toolkit = PackagingVersion(f"{cuda[0]}.{cuda[1]}")
    bad: list[str] = []
    for entry in split_arch_list(value):
        base = entry.lower().removesuffix("+ptx")
        for arch in NAMED_ARCHS.get(base, [base]):
            try:
                row = gpus.get(archs.parse_cc(arch).plain)
            except ValueError:
                continue
            if row and not archs.toolkit_supports(arch, toolkit, row["first_cuda"], row.get("last_cuda_major")):
                bad.append(entry)
                break
    return bad


def unsupported_rocm_archs(value: str, rocm: tuple[int, int]) -> list[str]:
    return [a for a in split_arch_list(value) if a.lower() in ROCM_ARCHS and rocm < ROCM_ARCHS[a.lower()]]
