"""Source builds inside RUN: which installs compile a CUDA/ROCm extension, and git clones."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.lint.analysis import InstallSite, Site, all_sites, install_sites, memo
from dockyard.lint.model import DockerfileModel
from dockyard.lint.packages import Requirement, repo_name

# Packages whose install from source compiles CUDA/ROCm extensions (setup.py builds with
# torch.utils.cpp_extension or CMake+nvcc). Sources: each project's install docs; compat.yaml addons.
EXTENSION_PACKAGES = {
    "flash-attn",
    "apex",
    "detectron2",
    "mamba-ssm",
    "causal-conv1d",
    "pytorch3d",
    "torch-scatter",
    "torch-sparse",
    "torch-cluster",
    "torch-spline-conv",
    "nvdiffrast",
    "tinycudann",
    "gsplat",
    "fused-ssim",
    "diff-gaussian-rasterization",
    "simple-knn",
    "natten",
    "auto-gptq",
    "grouped-gemm",
    "flash-attention",
    "mamba",
    "transformer-engine",
    "fouroversix",
}
SOURCE_ONLY_EXTENSIONS = {"xformers", "vllm", "bitsandbytes", "vision", "torchvision", "sglang"}
_PREBUILT_INDEX = re.compile(r"data\.pyg\.org|dl\.fbaipublicfiles\.com/detectron2/wheels|/whl/", re.I)
_SKIP_BUILD = ("FLASH_ATTENTION_SKIP_CUDA_BUILD", "SKIP_CUDA_BUILD", "FLASH_ATTENTION_FORCE_BUILD_SKIP")


# -- extension compiles ---------------------------------------------------------------------------


@dataclass
class Compile:
    site: Site
    package: str  # what is compiled, e.g. "flash-attn", "DeepSpeed ops", "detectron2"


def _ds_build(site: Site) -> bool:
    return any(k.startswith("DS_BUILD_") and (site.getenv(k) or "0") not in ("0", "") for k in site.env)


def _compiled_package(where: InstallSite, req: Requirement) -> str | None:
    site = where.site
    name = req.name or (repo_name(req.url) if req.url else "")
    if req.local and not req.name:
        path = site.expand(req.raw)
        where_path = path if path.startswith("/") else f"{site.cwd.rstrip('/')}/{path}"
        name = repo_name(where_path.rstrip("/.").rstrip("/") or "/")
    if not name:
        return None
    if any((site.getenv(k) or "").upper() in ("TRUE", "1", "YES") for k in _SKIP_BUILD):
        return None
    if name in ("deepspeed",):
        return "DeepSpeed ops" if _ds_build(site) else None
    from_source = bool(req.url) or req.local or "--no-binary" in where.install.options
    if name in EXTENSION_PACKAGES:
        prebuilt = any(_PREBUILT_INDEX.search(u) for u in where.install.option("--find-links"))
        return None if prebuilt and not from_source else name
    if name in SOURCE_ONLY_EXTENSIONS and from_source:
        return name
    if from_source and (site.getenv("FORCE_CUDA") or "") not in ("", "0"):
        return name
    return None


def compiles(model: DockerfileModel) -> list[Compile]:
    """Installs that compile a CUDA/ROCm extension (flash-attn, DeepSpeed ops, apex, ...)."""

    def compute() -> list[Compile]:
        out: list[Compile] = []
        for where in install_sites(model):
            if where.install.tool not in ("pip", "uv"):
                continue
            for req in where.requirements():
                package = _compiled_package(where, req)
                if package:
                    out.append(Compile(where.site, package))
                    break
        for site in all_sites(model):
            argv = [site.expand(a) for a in site.cmd.argv]
            if len(argv) >= 3 and re.match(r"^(?:.*/)?python[\d.]*$", argv[0]) and argv[1] == "setup.py":
                name = repo_name(site.cwd)
                if (
                    name in EXTENSION_PACKAGES
                    or name in SOURCE_ONLY_EXTENSIONS
                    or _ds_build(site)
                    or (site.getenv("FORCE_CUDA") or "") not in ("", "0")
                ):
                    out.append(Compile(site, name or "a CUDA extension"))
        return out

    return memo(model, "compiles", compute)


# git clone options that take a value (git-clone(1)); the rest are flags
_GIT_CLONE_VALUE_OPTIONS = {
    "--depth",
    "--branch",
    "-b",
    "--origin",
    "-o",
    "--reference",
    "--reference-if-able",
    "--shallow-since",
    "--shallow-exclude",
    "--filter",
    "--jobs",
    "-j",
    "--config",
    "-c",
    "--separate-git-dir",
    "--template",
    "--upload-pack",
    "-u",
    "--server-option",
    "--bundle-uri",
}


def git_clone_target(argv: list[str]) -> tuple[str, str] | None:
    """(url, destination) of `git clone [options] URL [DIR]`, or None if argv is not a clone."""
    if len(argv) < 3 or argv[0] != "git":
        return None
    rest = argv[1:]
    while len(rest) >= 2 and rest[0] in ("-C", "-c"):
        rest = rest[2:]
    if not rest or rest[0] != "clone":
        return None
    positional: list[str] = []
    i = 1
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-"):
            if arg in _GIT_CLONE_VALUE_OPTIONS:
                i += 1
        else:
            positional.append(arg)
        i += 1
    if not positional:
        return None
    url = positional[0]
    dest = positional[1] if len(positional) > 1 else url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return url, dest
