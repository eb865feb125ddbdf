"""Shared analysis the rules build on: the commands of each RUN with the environment they see,
package installs, torch installs and their wheel variant, extension compiles, accelerators."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dockyard.knowledge import accelerators as acc
from dockyard.lint.flow import Flow, Tri
from dockyard.lint.model import DockerfileModel, Instruction, Stage, expand
from dockyard.lint.packages import (
    Install,
    Requirement,
    parse_install,
    parse_mount,
    parse_requirement,
)
from dockyard.lint.shell import SimpleCommand, split_commands, strip_quotes

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
    reached: Tri = True  # runs with the ARG defaults (lint/flow.py): True, False (a branch not taken) or None

    def expand(self, text: str) -> str:
        return expand(text, self.vars, shell=True)

    def getenv(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None else expand(value, self.vars)


def run_instructions(model: DockerfileModel) -> list[Instruction]:
    return [i for i in model.instructions if i.keyword == "RUN" and i.stage is not None]


def _workdir(model: DockerfileModel, inst: Instruction) -> str:
    """The working directory `inst` runs in, from the WORKDIRs of its stage chain (one pass per stage)."""
    stage = inst.stage
    if stage is None:
        return "/"

    def compute() -> dict[int, str]:
        cwd, out = "/", {}
        for other in stage.chain_instructions():
            out[id(other)] = cwd
            if other.cmd == "WORKDIR" and other.value:
                path = expand(other.value[0], model.env_before(other))
                cwd = path if path.startswith("/") else f"{cwd.rstrip('/')}/{path}"
        return out

    return memo(model, f"workdirs:{stage.index}", compute).get(id(inst), "/")


def sites(model: DockerfileModel, inst: Instruction) -> list[Site]:
    """The simple commands of a RUN with what each sees. Every command is listed (lint judges code that a
    build argument could switch on); `reached` says whether it runs with the ARG defaults, and only
    assignments that run change the values later commands see."""

    def compute() -> list[Site]:
        base = {**model.env_before(inst), **profile_before(model, inst)}
        env: dict[str, str | None] = dict(base)
        shell_vars: dict[str, str | None] = dict(base)
        cwd = _workdir(model, inst)
        out: list[Site] = []
        flow = Flow()
        for position, cmd in enumerate(split_commands(inst.script)):
            reached = flow.enter(cmd)
            runs = reached is not False
            if runs and cmd.name in ("export", "declare"):
                for word in cmd.words[1:]:
                    name, eq, value = word.value.partition("=")
                    if eq and re.match(r"^[A-Za-z_]\w*$", name):
                        env[name] = shell_vars[name] = expand(value, shell_vars, shell=True)
                    elif name in shell_vars:
                        env[name] = shell_vars[name]
            if not cmd.words:
                if runs:
                    for name, value in cmd.assignments.items():
                        shell_vars[name] = expand(value, shell_vars, shell=True)
                flow.leave(cmd, reached, True)
                continue
            own_env = dict(env)
            own_vars = dict(shell_vars)
            for name, value in cmd.assignments.items():
                own_env[name] = own_vars[name] = expand(value, shell_vars, shell=True)
            if runs and cmd.name in ("cd", "pushd") and len(cmd.words) > 1:
                target = expand(cmd.words[1].value, shell_vars, shell=True)
                cwd = target if target.startswith("/") else f"{cwd.rstrip('/')}/{target}"
            site = Site(inst, cmd, own_env, own_vars, cwd, position, reached)
            out.append(site)
            flow.leave(cmd, reached, flow.status_of(cmd, [site.expand(w.value) for w in cmd.words]))
        return out

    return memo(model, f"sites:{inst.index}", compute)


_PROFILES = ("~/.profile", "$HOME/.profile", "${HOME}/.profile", "/root/.profile")


def _login_shells(model: DockerfileModel, stage: Stage) -> dict[int, bool]:
    """id(instruction) -> whether RUNs there run in a login shell (`SHELL ["sh", "-lc"]`), which reads
    ~/.profile; one pass over the stage chain."""

    def compute() -> dict[int, bool]:
        login, out = False, {}
        for other in stage.chain_instructions():
            out[id(other)] = login
            if other.cmd == "SHELL" and other.is_json:
                login = any(w == "--login" or (w.startswith("-") and not w.startswith("--") and "l" in w)
                            for w in other.value[1:])
        return out

    return memo(model, f"login_shells:{stage.index}", compute)


def profile_before(model: DockerfileModel, inst: Instruction) -> dict[str, str | None]:
    """Variables that earlier RUNs of the stage chain wrote to ~/.profile as `export NAME=value` lines,
    which a login shell (`SHELL ["sh", "-lc"]`) reads before each later RUN: one way Dockerfiles pass a
    value computed in one RUN to the next."""
    stage = inst.stage
    if stage is None or not _login_shells(model, stage).get(id(inst)):
        return {}
    found: dict[str, str | None] = {}
    for other in stage.chain_instructions():
        if other is inst:
            break
        if other.keyword != "RUN" or not _login_shells(model, stage).get(id(other)):
            continue
        for site in sites(model, other):
            if site.reached is False or site.cmd.name != "echo":
                continue
            if not any(r.op == ">>" and r.target in _PROFILES for r in site.cmd.redirects):
                continue
            line = site.expand(" ".join(w.value for w in site.cmd.words[1:]))
            match = re.match(r"^export\s+([A-Za-z_]\w*)=(.*)$", line.strip())
            if match:
                found[match.group(1)] = strip_quotes(match.group(2).strip())
    return found


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


def install_sites_of(model: DockerfileModel, inst: Instruction) -> list[InstallSite]:
    """The installs of one instruction (an index built once, not a scan per instruction)."""

    def compute() -> dict[int, list[InstallSite]]:
        out: dict[int, list[InstallSite]] = {}
        for where in install_sites(model):
            out.setdefault(id(where.inst), []).append(where)
        return out

    return memo(model, "install_sites_by_inst", compute).get(id(inst), [])


def install_sites_by_stage(model: DockerfileModel) -> dict[int, list[InstallSite]]:
    """Stage index -> its installs, in file order."""

    def compute() -> dict[int, list[InstallSite]]:
        out: dict[int, list[InstallSite]] = {}
        for where in install_sites(model):
            if where.inst.stage is not None:
                out.setdefault(where.inst.stage.index, []).append(where)
        return out

    return memo(model, "install_sites_by_stage", compute)


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


def _torch_installs_by_stage(model: DockerfileModel) -> dict[int, list[TorchInstall]]:
    def compute() -> dict[int, list[TorchInstall]]:
        out: dict[int, list[TorchInstall]] = {}
        for torch in torch_installs(model):
            if torch.where.inst.stage is not None:
                out.setdefault(torch.where.inst.stage.index, []).append(torch)
        return out

    return memo(model, "torch_installs_by_stage", compute)


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


def _base_accelerator(model: DockerfileModel, image: str) -> acc.Accelerator | None:
    table: dict[str, acc.Accelerator | None] = memo(model, "base_accelerators", dict)
    if image not in table:
        table[image] = acc.base_accelerator(image)
    return table[image]


def _gpu_consumers(model: DockerfileModel) -> dict[str, list[tuple[Stage, acc.Accelerator]]]:
    """`COPY --from=X` source (lower-cased name or index) -> the stages on a non-CPU base holding such
    a COPY, in file order, with that accelerator. One pass over the file."""

    def compute() -> dict[str, list[tuple[Stage, acc.Accelerator]]]:
        out: dict[str, list[tuple[Stage, acc.Accelerator]]] = {}
        for stage in model.stages:
            accel = _base_accelerator(model, stage.root_base)
            if accel is None or accel.kind == "cpu":
                continue
            for source in sorted({i.flag("from")[0].lower() for i in stage.instructions
                                  if i.cmd == "COPY" and i.flag("from")}):
                out.setdefault(source, []).append((stage, accel))
        return out

    return memo(model, "gpu_consumers", compute)


def stage_accelerator(model: DockerfileModel, stage: Stage) -> acc.Accelerator | None:
    """The accelerator a stage's software is for: its root base, or, for a CPU/unknown builder
    stage whose files are copied into a GPU stage, that stage's accelerator.

    The stages built on a copying stage share its root base, so the first copying stage (in file
    order) stands for them all."""

    def compute() -> acc.Accelerator | None:
        own = _base_accelerator(model, stage.root_base)
        if own is not None and own.kind != "cpu":
            return own
        consumers = _gpu_consumers(model)
        found = [pair for key in {stage.name or "", str(stage.index)} for pair in consumers.get(key, [])[:2]]
        for other, accel in sorted(found, key=lambda pair: pair[0].index):
            if other is not stage:
                return accel
        return own

    return memo(model, f"stage_accelerator:{stage.index}", compute)


def image_accelerator(model: DockerfileModel, stage: Stage) -> acc.Accelerator | None:
    """Like stage_accelerator, but a CPU/unknown base with ROCm/XPU/CUDA torch wheels counts as that."""

    def compute() -> acc.Accelerator | None:
        found = stage_accelerator(model, stage)
        if found is not None and found.kind != "cpu":
            return found
        by_stage = _torch_installs_by_stage(model)
        for torch in sorted((t for s in stage.chain() for t in by_stage.get(s.index, [])),
                            key=lambda t: t.where.inst.index):
            if torch.variant and torch.variant.kind in ("rocm", "xpu"):
                return acc.Accelerator(torch.variant.kind, torch.variant.version, stage.root_base)
        return found

    return memo(model, f"image_accelerator:{stage.index}", compute)


_CUDA_NAMES = ("CUDA_VERSION", "CUDA_VER", "CUDA", "CUDA_TOOLKIT_VERSION", "CUDA_FULL_VERSION")


def declared_cuda(model: DockerfileModel, inst: Instruction) -> acc.Accelerator | None:
    """The CUDA version a stage builds with when its base does not say: a build argument's (or ENV's)
    default visible at `inst` (`ARG CUDA_VERSION=12.4.1`, `ARG CUDA='cu126'`), else the CUDA variant of
    torch wheels the stage chain installs (the toolkit an extension is compiled with must match it)."""
    env = model.env_before(inst)
    for name in _CUDA_NAMES:
        value = expand(env.get(name) or "", env).strip().strip("'\"")
        match = re.match(r"^(?:cu)?(\d{2})(\d)$", value) or re.match(r"^(\d{2})\.(\d+)(?:\.\d+)?$", value)
        if match:
            return acc.Accelerator("cuda", (int(match.group(1)), int(match.group(2))), f"the default {name}={value}")
    stage = inst.stage
    by_stage = _torch_installs_by_stage(model)
    for torch in (t for s in (stage.chain() if stage else []) for t in by_stage.get(s.index, [])):
        if torch.variant is not None and torch.variant.kind == "cuda" and torch.variant.version is not None:
            return acc.Accelerator("cuda", torch.variant.version, f"torch {torch.variant.label} wheels")
    return None
