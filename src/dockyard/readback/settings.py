"""The spec keys of what is not a Python package: apt packages, env, build arguments, user, entrypoint and
command, and the notes for what no key carries (steps, files, labels). Part of `tospec`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.knowledge.loader import Knowledge, imports_table
from dockyard.readback.inventory import Item
from dockyard.spec.fields import ENV_NAME
from dockyard.spec.secrets import looks_secret, secret_in_value

DOCKYARD_ENV = {"PATH", "VIRTUAL_ENV", "DEBIAN_FRONTEND", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "LANG",
                "LC_ALL", "HF_HOME", "UV_PYTHON", "UV_PYTHON_INSTALL_DIR", "UV_SYSTEM_PYTHON", "PIP_NO_CACHE_DIR",
                "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PYTHON_VERSION", "CONDA_PREFIX"}
ARG_KEYS = {"PYTORCH": "torch", "TORCH_VERSION": "torch", "CUDA": "variant", "ROCM": "variant",
            "REF": "transformers", "PYTHON_VERSION": "python", "PYTHON_VER": "python",
            "TORCH_CUDA_ARCH_LIST": "gpu-archs"}


@dataclass(frozen=True)
class Mapped:
    """One item of the Dockerfile and what the spec does with it."""

    item: Item
    key: str  # the spec key that carries it, "" when none does
    note: str  # how it maps, or why it does not


@dataclass
class Draft:
    k: Knowledge
    image: dict[str, Any] = field(default_factory=dict)
    rows: list[Mapped] = field(default_factory=list)

    def put(self, item: Item, key: str, value: Any, note: str) -> None:
        if isinstance(value, list):
            have = self.image.setdefault(key, [])
            have.extend(v for v in value if v not in have)
        else:
            self.image[key] = value
        self.rows.append(Mapped(item, key, note))

    def skip(self, item: Item, note: str) -> None:
        self.rows.append(Mapped(item, "", note))



def unmapped_note(item: Item) -> str:
    notes = {"workdir": "dockyard's images work in the user's home", "shell": "dockyard's RUNs use /bin/sh",
             "labels": "dockyard writes its own OCI labels (title, description, base, versions)",
             "files": "copy files into the image with the `files` key (they land in /app)"}
    if item.kind == "steps":
        return step_note(item.name)
    return notes.get(item.kind, "no spec key for it")


def step_note(step: str) -> str:
    if re.match(r"^git clone \S*huggingface/transformers", step) or step.startswith("git checkout"):
        return "the `transformers` key installs a release or a ref (`main`, `git:<sha>`)"
    if step == "git lfs install" or step.startswith("git lfs install "):
        return "git-lfs's hooks: part of the system package git-lfs's setup"
    if re.match(r"^python[\d.]* -c .*\bimport\b", step) or "check-torch" in step:
        return "a smoke test: dockyard's probe imports every package at build time and `dockyard verify` after"
    if re.match(r"^(?:curl|wget|gsutil)\b", step):
        return "a build-time download: not reproducible; add what it fetches with `files` or as a package"
    return "a build step dockyard has no key for"


def system(spec: Draft, item: Item, **how: Any) -> None:
    table = imports_table()
    name = item.name
    runtime = table.get("runtime_of", {}).get(name, name)
    modalities: list[str] = spec.image.get("modalities", [])
    owner = next((m for m in modalities if runtime in spec.k.modalities[m].system), None)
    if owner is not None:
        spec.rows.append(Mapped(item, "modalities", f"the {owner} modality installs {runtime}"
                                + (f" (the runtime library of {name})" if runtime != name else "")))
    elif name in table.get("build_only", {}).get("packages", []):
        spec.skip(item, "a compiler or build tool: dockyard compiles in its builder stage (add it to "
                  "system-packages if the image must compile at run time)")
    elif name in table.get("python_packages", {}).get("packages", []) or re.match(r"^python3\.\d+(-dev|-venv)?$",
                                                                                   name):
        spec.skip(item, "the interpreter: the `python` key decides it")
    elif name in ("ca-certificates", "tini"):
        spec.skip(item, "in every dockyard image")
    elif not re.match(r"^[a-z0-9][a-z0-9+.:=~-]*$", name):
        spec.skip(item, "not an apt package name dockyard can write")
    else:
        spec.put(item, "system-packages", [runtime], "an apt package of the final image"
                 + (f" (the runtime library of {name})" if runtime != name else ""))


def env(spec: Draft, item: Item, **how: Any) -> None:
    name, value = item.name, item.value
    if looks_secret(name) or secret_in_value(value):
        spec.skip(item, "refused: it looks like a secret; pass it at run time (`docker run -e`) or as a build "
                  "secret, never in an image")
    elif name in ("TORCH_CUDA_ARCH_LIST", "PYTORCH_ROCM_ARCH") and re.match(r"^[\w.;+ ]+$", value):
        archs = [a for a in re.split(r"[;\s]+", value) if a]
        spec.put(item, "gpu-archs", archs, "the archs extensions compile for")
    elif name in DOCKYARD_ENV:
        spec.skip(item, "dockyard sets its own (the venv, locale, bytecode and installer settings)")
    elif not ENV_NAME.match(name) or "$" in value or "\n" in value or any(ord(c) < 0x20 for c in value):
        spec.skip(item, "a value that refers to other variables or is not literal: set it in `env` by hand")
    else:
        spec.image.setdefault("env", {})[name] = value
        spec.rows.append(Mapped(item, "env", "as the original sets it"))


def arg(spec: Draft, item: Item, **how: Any) -> None:
    key = ARG_KEYS.get(item.name)
    if key:
        spec.rows.append(Mapped(item, key, f"a build argument of the original; the spec's `{key}` decides it"))
    else:
        spec.skip(item, "a build argument of the original: its value is read where it is used")


def user(spec: Draft, item: Item, **how: Any) -> None:
    if item.name in ("root", "0", "0:0"):
        spec.skip(item, "dockyard runs as a non-root user; set user = \"root\" to keep root (not recommended)")
    elif re.match(r"^[a-z_][a-z0-9_-]{0,31}$", item.name):
        spec.put(item, "user", item.name, "the runtime user")
    else:
        spec.skip(item, "a numeric or group user: dockyard creates its user by name (`user`)")


def command(spec: Draft, item: Item, **how: Any) -> None:
    argv = _argv(item)
    if argv is None:
        spec.skip(item, "the shell form: write the exec form in the spec")
    elif any(word.startswith(("/usr/local/bin/", "/entrypoint", "/opt/ci/")) for word in argv[:1]):
        spec.skip(item, "runs a script the original copies in: add it with `files` and name it here")
    elif item.kind == "cmd" and argv in (["bash"], ["/bin/bash"]):
        spec.skip(item, "a shell: `docker run -it IMAGE bash` gives one")
    else:
        spec.put(item, item.kind, argv, "exec form")


def _argv(item: Item) -> list[str] | None:
    if not item.detail.startswith("["):
        return None
    try:
        argv = json.loads(item.detail)
    except ValueError:
        return None
    return [str(a) for a in argv] if isinstance(argv, list) and argv else None
