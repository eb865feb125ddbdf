"""Shared analysis the rules build on: the commands of each RUN with the environment they see,
package installs, torch installs and their wheel variant, extension compiles, accelerators."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dockyard.knowledge import accelerators as acc
from dockyard.lint.model import DockerfileModel, Instruction, Stage, expand
from dockyard.lint.packages import (
    Install,
    Requirement,
    parse_install,
    parse_mount,
    parse_requirement,
)
from dockyard.lint.shell import SimpleCommand, split_commands

T = TypeVar("T")

TORCH_FAMILY = {"torch", "torchvision", "torchaudio"}


def memo(model: DockerfileModel, key: str, compute: Callable[[], T]) -> T:
    if key not in model.memo:
        model.memo[key] = compute()
    return model.memo[key]  # type: ignore[return-value]


@dataclass
class Site:
    """One simple command inside a RUN, with what it sees."""

    inst: Instruction
    cmd: SimpleCommand
    env: dict[str, str | None]  # exported to the process: ARG, ENV, `export`, `VAR=x cmd`
    vars: dict[str, str | None]  # env plus plain shell assignments, for expanding words
    cwd: str
    position: int

    def expand(self, text: str) -> str:
        return expand(text, self.vars)

    def getenv(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None else expand(value, self.vars)


def run_instructions(model: DockerfileModel) -> list[Instruction]:
    return [i for i in model.instructions if i.keyword == "RUN" and i.stage is not None]


def _workdir(model: DockerfileModel, inst: Instruction) -> str:
    cwd = "/"
    if inst.stage is None:
        return cwd
    env = model.env_before(inst)
    for other in inst.stage.chain_instructions():
        if other is inst:
            break
        if other.cmd == "WORKDIR" and other.value:
            path = expand(other.value[0], env)
            cwd = path if path.startswith("/") else f"{cwd.rstrip('/')}/{path}"
    return cwd


def sites(model: DockerfileModel, inst: Instruction) -> list[Site]:
    def compute() -> list[Site]:
        base = model.env_before(inst)
        env: dict[str, str | None] = dict(base)
        shell_vars: dict[str, str | None] = dict(base)
        cwd = _workdir(model, inst)
        out: list[Site] = []
        for position, cmd in enumerate(split_commands(inst.script)):
            if cmd.name == "export" or cmd.name == "declare":
                for word in cmd.words[1:]:
                    name, eq, value = word.value.partition("=")
                    if eq and re.match(r"^[A-Za-z_]\w*$", name):
                        env[name] = shell_vars[name] = expand(value, shell_vars)
                    elif name in shell_vars:
                        env[name] = shell_vars[name]
            if not cmd.words:
                for name, value in cmd.assignments.items():
                    shell_vars[name] = expand(value, shell_vars)
                continue
            own_env = dict(env)
            own_vars = dict(shell_vars)
            for name, value in cmd.assignments.items():
                own_env[name] = own_vars[name] = expand(value, shell_vars)
            if cmd.name in ("cd", "pushd") and len(cmd.words) > 1:
                target = expand(cmd.words[1].value, shell_vars)
                cwd = target if target.startswith("/") else f"{cwd.rstrip('/')}/{target}"
            out.append(Site(inst, cmd, own_env, own_vars, cwd, position))
        return out

    return memo(model, f"sites:{inst.index}", compute)


def all_sites(model: DockerfileModel) -> list[Site]:
    return memo(model, "all_sites", lambda: [s for i in run_instructions(model) for s in sites(model, i)])


@dataclass
class InstallSite:
    site: Site
    install: Install

    @property
    def inst(self) -> Instruction:
        return self.site.inst

    def requirements(self) -> list[Requirement]:
        return [parse_requirement(self.site.expand(w.value)) for w in self.install.requirements]

    def index_urls(self) -> tuple[list[str], list[str]]:
        """(primary index URLs, extra index URLs) from options and PIP_/UV_ environment."""
        expand_ = self.site.expand
        tool = self.install.tool
        primary = [expand_(u) for u in self.install.option("--index-url") + self.install.option("--default-index")]
        extra = [expand_(u) for u in self.install.option("--extra-index-url") + self.install.option("--index")]
        prefix = "UV_" if tool == "uv" else "PIP_"
        if not primary and self.site.getenv(f"{prefix}INDEX_URL"):
            primary.append(self.site.getenv(f"{prefix}INDEX_URL") or "")
        if tool == "uv" and not primary and self.site.getenv("UV_DEFAULT_INDEX"):
            primary.append(self.site.getenv("UV_DEFAULT_INDEX") or "")
        env_extra = self.site.getenv(f"{prefix}EXTRA_INDEX_URL") or (
            self.site.getenv("UV_INDEX") if tool == "uv" else ""
        )
        if env_extra:
            extra.extend(env_extra.split())
        return primary, extra


def install_sites(model: DockerfileModel) -> list[InstallSite]:
    def compute() -> list[InstallSite]:
        out = []
        for site in all_sites(model):
            install = parse_install(site.cmd)
            if install is not None:
                install.env = {k: v or "" for k, v in site.cmd.assignments.items()}
                out.append(InstallSite(site, install))
        return out

    return memo(model, "install_sites", compute)


def mounts(inst: Instruction) -> list[dict[str, str]]:
    return [parse_mount(m) for m in inst.flag("mount")]


def cache_mount_targets(site: Site) -> list[str]:
    return [site.expand(m.get("target", "")) for m in mounts(site.inst) if m.get("type") == "cache"]


# -- torch installs -------------------------------------------------------------------------------


@dataclass
class TorchInstall:
    where: InstallSite
    requirement: Requirement
    variant: acc.WheelVariant | None  # None: cannot tell (a custom index, `--torch-backend auto`, ...)


def torch_installs(model: DockerfileModel) -> list[TorchInstall]:
    def compute() -> list[TorchInstall]:
        out = []
        for where in install_sites(model):
            if where.install.tool not in ("pip", "uv") or where.install.subcommand not in ("install", "add"):
                continue
            for req in where.requirements():
                if req.name == "torch":
                    out.append(TorchInstall(where, req, _variant(where, req)))
        return out

    return memo(model, "torch_installs", compute)


def _variant(where: InstallSite, req: Requirement) -> acc.WheelVariant | None:
    local = acc.variant_from_local(req.specifier or req.url or req.raw)
    if local:
        return local
    backend = where.install.option("--torch-backend") or (
        [where.site.getenv("UV_TORCH_BACKEND") or ""] if where.install.tool == "uv" else []
    )
    if backend and backend[0] and backend[0] != "auto":
        return acc.variant_from_label(backend[0], "torch backend")
    primary, extra = where.index_urls()
    for url in primary + extra:
        found = acc.variant_from_index(url)
        if found:
            return found
    find_links = where.install.option("--find-links")
    if req.url or req.local or find_links or primary:
        return None  # a wheel file, a local wheelhouse or a custom index: the variant is unknown
    return acc.pypi_default(req.specifier)


# -- accelerators ---------------------------------------------------------------------------------


def stage_accelerator(model: DockerfileModel, stage: Stage) -> acc.Accelerator | None:
    """The accelerator a stage's software is for: its root base, or, for a CPU/unknown builder
    stage whose files are copied into a GPU stage, that stage's accelerator."""
    own = acc.base_accelerator(stage.root_base)
    if own is not None and own.kind != "cpu":
        return own
    for other in model.stages:
        if other is stage:
            continue
        for inst in other.chain_instructions():
            sources = inst.flag("from")
            if inst.cmd == "COPY" and sources and sources[0].lower() in (stage.name, str(stage.index)):
                consumer = acc.base_accelerator(other.root_base)
                if consumer is not None and consumer.kind != "cpu":
                    return consumer
    return own


def image_accelerator(model: DockerfileModel, stage: Stage) -> acc.Accelerator | None:
    """Like stage_accelerator, but a CPU/unknown base with ROCm/XPU/CUDA torch wheels counts as that."""
    found = stage_accelerator(model, stage)
    if found is not None and found.kind != "cpu":
        return found
    chain = stage.chain()
    for torch in torch_installs(model):
        if torch.where.inst.stage in chain and torch.variant and torch.variant.kind in ("rocm", "xpu"):
            return acc.Accelerator(torch.variant.kind, torch.variant.version, stage.root_base)
    return found
