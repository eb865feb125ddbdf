"""Package-manager commands inside RUN: pip, uv, conda/mamba and apt, with their options,
requirements and the environment they run in; plus `--mount` flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.lint.shell import SimpleCommand, Word

_PY = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)?)?$")
_PIP = re.compile(r"^(?:.*/)?pip(?:\d+(?:\.\d+)?)?$")
_CONDA = {"conda", "mamba", "micromamba"}

# options whose value is the next word (or after `=`); names normalised to their long form
_PIP_VALUE_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "-c": "--constraint",
    "--constraint": "--constraint",
    "-r": "--requirement",
    "--requirement": "--requirement",
    "-e": "--editable",
    "--editable": "--editable",
    "-t": "--target",
    "--target": "--target",
    "--prefix": "--prefix",
    "--root": "--root",
    "--src": "--src",
    "--platform": "--platform",
    "--python-version": "--python-version",
    "--implementation": "--implementation",
    "--abi": "--abi",
    "--only-binary": "--only-binary",
    "--no-binary": "--no-binary",
    "--upgrade-strategy": "--upgrade-strategy",
    "-C": "--config-settings",
    "--config-settings": "--config-settings",
    "--config-setting": "--config-settings",
    "--global-option": "--global-option",
    "--build-option": "--build-option",
    "--install-option": "--install-option",
    "--progress-bar": "--progress-bar",
    "--trusted-host": "--trusted-host",
    "--cache-dir": "--cache-dir",
    "--log": "--log",
    "--proxy": "--proxy",
    "--retries": "--retries",
    "--timeout": "--timeout",
    "--exists-action": "--exists-action",
    "--cert": "--cert",
    "--client-cert": "--client-cert",
    "--python": "--python",
    "-p": "--python",
    "--index-strategy": "--index-strategy",
    "--torch-backend": "--torch-backend",
    "--index": "--index",
    "--default-index": "--default-index",
    "--override": "--override",
    "--overrides": "--override",
    "--resolution": "--resolution",
    "--prerelease": "--prerelease",
    "--python-platform": "--python-platform",
    "--extra": "--extra",
    "--group": "--group",
    "--keyring-provider": "--keyring-provider",
    "--report": "--report",
    "--root-user-action": "--root-user-action",
    "--use-feature": "--use-feature",
    "--build-constraint": "--build-constraint",
    "--build-constraints": "--build-constraint",
    "--with": "--with",
    "--refresh-package": "--refresh-package",
    "--reinstall-package": "--reinstall-package",
    "--upgrade-package": "--upgrade-package",
    "-P": "--upgrade-package",
}
_CONDA_VALUE_OPTIONS = {
    "-c": "--channel",
    "--channel": "--channel",
    "-n": "--name",
    "--name": "--name",
    "-p": "--prefix",
    "--prefix": "--prefix",
    "-f": "--file",
    "--file": "--file",
    "--override-channels": "",
}


@dataclass
class Install:
    """One package-install command."""

    tool: str  # "pip", "uv", "conda" or "apt"
    command: SimpleCommand
    requirements: list[Word] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)
    switches: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)  # prefix assignments and exports in the RUN
    subcommand: str = "install"

    def option(self, name: str) -> list[str]:
        return self.options.get(name, [])

    def has(self, *switches: str) -> bool:
        return any(s in self.switches for s in switches)


def _parse_args(words: list[Word], value_options: dict[str, str]) -> tuple[list[Word], dict[str, list[str]], set[str]]:
    reqs: list[Word] = []
    options: dict[str, list[str]] = {}
    switches: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        text = word.value
        if text.startswith("-") and len(text) > 1:
            name, eq, val = text.partition("=")
            long = value_options.get(name)
            if long is None and not eq and len(name) > 2 and name[:2] in value_options and name[1] != "-":
                long, val, eq = value_options[name[:2]], name[2:], "="  # `-ihttps://...`
            if long:
                if not eq:
                    i += 1
                    val = words[i].value if i < len(words) else ""
                options.setdefault(long, []).append(val)
                if long == "--editable":
                    reqs.append(Word(val, val, word.offset))
            else:
                switches.add(name)
                if len(name) > 2 and name[1] != "-":
                    switches.update(f"-{c}" for c in name[1:])  # `-qU` -> -q, -U
                if eq:
                    options.setdefault(name, []).append(val)
            i += 1
            continue
        reqs.append(word)
        i += 1
    return reqs, options, switches


def parse_install(cmd: SimpleCommand) -> Install | None:
    """Recognise pip/uv/conda/apt install commands; None for anything else."""
    words = cmd.words
    if not words:
        return None
    head = words[0].value
    rest = words[1:]
    if _PY.match(head) and len(rest) >= 2 and rest[0].value == "-m" and rest[1].value in ("pip", "uv"):
        head, rest = rest[1].value, rest[2:]
    if _PIP.match(head):
        pre: list[Word] = []
        while rest and rest[0].value.startswith("-"):
            pre.append(rest.pop(0))
        if not rest or rest[0].value != "install":
            return None
        reqs, options, switches = _parse_args(pre + rest[1:], _PIP_VALUE_OPTIONS)
        return Install("pip", cmd, reqs, options, switches)
    if head.rsplit("/", 1)[-1] == "uv" and rest:
        sub = rest[0].value
        if sub == "pip" and len(rest) > 1 and rest[1].value in ("install", "sync"):
            reqs, options, switches = _parse_args(rest[2:], _PIP_VALUE_OPTIONS)
            return Install("uv", cmd, reqs, options, switches, subcommand=rest[1].value)
        if sub in ("add", "sync") or (sub == "tool" and len(rest) > 1 and rest[1].value == "install"):
            skip = 2 if sub == "tool" else 1
            reqs, options, switches = _parse_args(rest[skip:], _PIP_VALUE_OPTIONS)
            return Install("uv", cmd, reqs, options, switches, subcommand=sub)
        return None
    if head in _CONDA and rest:
        sub_words = rest
        if sub_words[0].value == "env" and len(sub_words) > 1:
            sub_words = sub_words[1:]
        if sub_words[0].value in ("install", "create", "update"):
            reqs, options, switches = _parse_args(sub_words[1:], _CONDA_VALUE_OPTIONS)
            return Install("conda", cmd, reqs, options, switches, subcommand=sub_words[0].value)
        return None
    if head in ("apt-get", "apt", "aptitude") and rest:
        subs = [w.value for w in rest if not w.value.startswith("-")]
        if subs and subs[0] in ("install", "update", "upgrade", "dist-upgrade"):
            reqs = [w for w in rest if not w.value.startswith("-") and w.value != subs[0]]
            switches = {w.value for w in rest if w.value.startswith("-")}
            return Install("apt", cmd, reqs, {}, switches, subcommand=subs[0])
    return None


@dataclass
class Removal:
    """One package-removal command: `pip uninstall`, `uv pip uninstall`, `conda remove`, `apt-get remove`."""

    tool: str  # "pip", "uv", "conda" or "apt"
    command: SimpleCommand
    names: list[Word] = field(default_factory=list)


def parse_removal(cmd: SimpleCommand) -> Removal | None:
    """Recognise package-removal commands; None for anything else."""
    words = cmd.words
    if not words:
        return None
    head, rest = words[0].value, words[1:]
    if _PY.match(head) and len(rest) >= 2 and rest[0].value == "-m" and rest[1].value in ("pip", "uv"):
        head, rest = rest[1].value, rest[2:]
    tool = ""
    if _PIP.match(head) and rest and rest[0].value == "uninstall":
        tool, rest = "pip", rest[1:]
    elif head.rsplit("/", 1)[-1] == "uv" and len(rest) > 1 and rest[0].value == "pip" and rest[1].value == "uninstall":
        tool, rest = "uv", rest[2:]
    elif head in _CONDA and rest and rest[0].value in ("remove", "uninstall"):
        tool, rest = "conda", rest[1:]
    elif head in ("apt-get", "apt", "aptitude") and rest:
        subs = [w for w in rest if not w.value.startswith("-")]
        if subs and subs[0].value in ("remove", "purge"):
            tool, rest = "apt", [w for w in rest if w is not subs[0]]
    if not tool:
        return None
    names: list[Word] = []
    skip = False
    for word in rest:
        if skip:
            skip = False
            continue
        if word.value.startswith("-"):
            skip = word.value in ("-r", "--requirement", "-n", "--name", "-p", "--prefix", "--python")
            continue
        names.append(word)
    return Removal(tool, cmd, names)


# -- requirements ---------------------------------------------------------------------------------

_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$", re.S)


@dataclass(frozen=True)
class Requirement:
    raw: str
    name: str | None  # normalised (lower case, `-` separators); None for an unnamed path or URL
    specifier: str = ""
    url: str = ""
    local: bool = False
    extras: tuple[str, ...] = ()  # `name[a,b]`, `#egg=name[a,b]` or `./path[a,b]`, normalised and sorted

    @property
    def vcs(self) -> bool:
        return self.url.startswith(("git+", "hg+", "svn+", "bzr+"))


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extras(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(sorted({normalize(e.strip()) for e in text.strip("[]").split(",") if e.strip()}))


def parse_requirement(raw: str) -> Requirement:
    text = raw.strip()
    if " @ " in text or re.match(r"^[A-Za-z0-9._-]+(\[[^\]]*\])?\s*@\s*\S+://", text):
        name, _, url = text.partition("@")
        base = _NAME.match(name.strip())
        return Requirement(raw, normalize(base.group(1)) if base else None, url=url.strip(),
                           extras=_extras(base.group(2)) if base else ())
    if "://" in text or text.startswith(("git+", "git@")):
        egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)(\[[^\]]*\])?", text)
        if egg:
            return Requirement(raw, normalize(egg.group(1)), url=text, extras=_extras(egg.group(2)))
        wheel = re.search(r"/([A-Za-z0-9_.]+)-(\d[^-/]*)-[^/]*\.whl$", text)
        if wheel:
            return Requirement(raw, normalize(wheel.group(1)), specifier=f"=={wheel.group(2)}", url=text)
        return Requirement(raw, None, url=text)
    if text.startswith((".", "/", "~", "$")) or text.endswith((".whl", ".tar.gz", ".zip")):
        wheel = re.search(r"(?:^|/)([A-Za-z0-9_.]+)-(\d[^-/]*)-[^/]*\.whl$", text)
        if wheel:
            return Requirement(raw, normalize(wheel.group(1)), specifier=f"=={wheel.group(2)}", local=True)
        extras = re.search(r"(\[[^\]]*\])$", text)
        return Requirement(raw, None, local=True, extras=_extras(extras.group(1)) if extras else ())
    match = _NAME.match(text)
    if not match:
        return Requirement(raw, None)
    spec = match.group(3).split(";", 1)[0].strip()
    return Requirement(raw, normalize(match.group(1)), specifier=spec, extras=_extras(match.group(2)))


def repo_name(url: str) -> str:
    """`git+https://github.com/org/flash-attention.git@abc` -> `flash-attention`."""
    path = re.split(r"[@#]", url.split("://", 1)[-1].split(":", 1)[-1], maxsplit=1)[0] if url else ""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return normalize(last.removesuffix(".git")) if last else ""


def vcs_ref(url: str) -> str | None:
    """The `@ref` of a VCS URL (`git+https://host/repo.git@ref#egg=x`), or None."""
    body = url.split("://", 1)[-1]
    body = body.split("#", 1)[0]
    if "@" not in body:
        return None
    after_host = body.split("/", 1)[-1] if "/" in body else body
    if "@" not in after_host:
        return None
    return after_host.rsplit("@", 1)[-1] or None


# -- mounts ---------------------------------------------------------------------------------------


def parse_mount(spec: str) -> dict[str, str]:
    """`type=cache,target=/root/.cache/pip,sharing=locked` -> a dict (type defaults to bind)."""
    out: dict[str, str] = {"type": "bind"}
    for part in spec.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if key in ("dst", "destination"):
            key = "target"
        out[key] = value.strip().strip("'\"") if eq else "true"
    return out


def covers(mount_target: str, path: str) -> bool:
    """True when a mount at `mount_target` contains `path`."""
    target = mount_target.rstrip("/") or "/"
    path = path.rstrip("/") or "/"
    return path == target or path.startswith(target + "/") or target == "/"
