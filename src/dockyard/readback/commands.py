"""One command of a RUN read back: what it installs, removes, clones, which Python it sets up, or the
build step it is. Built on lint's extraction (lint/analysis.py sites and installs, lint/packages.py)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.lint.analysis import InstallSite, Site, mounts
from dockyard.lint.packages import Install, Requirement, parse_removal, parse_requirement, repo_name

# Commands that only move the shell around or tidy up: they are not build steps of their own.
PLUMBING = frozenset({
    "cd", "pushd", "popd", "echo", "printf", "set", "export", "declare", "unset", "true", "false", ":", "[", "[[",
    "test", "mkdir", "rm", "chmod", "chown", "touch", "ln", "sleep", "source", ".", "exit", "cat", "ls", "head",
    "tail", "sort", "tee", "which", "command", "type", "wait", "grep",
})
# Package-manager housekeeping: no item of its own.
_HOUSEKEEPING = re.compile(
    r"^(?:apt-get|apt|aptitude) (?:update|clean|autoclean|autoremove)\b|^(?:pip\d*(?:\.\d+)?|uv) cache\b"
    r"|^(?:conda|mamba|micromamba) clean\b|^uv pip (?:list|freeze|show|check)\b"
    r"|^pip\d*(?:\.\d+)? (?:list|freeze|show)\b")
# Commands whose argument is the Python version they install (scripts named by what they do).
_PYTHON_SCRIPTS = re.compile(r"(?:^|/)(?:install-python|python)\.sh$")
_CONDA = {"conda", "mamba", "micromamba"}
ContextReader = Callable[[str], "str | None"]


@dataclass
class Read:
    """What one command does, as the reader needs it."""

    packages: list[tuple[Requirement, str]] = field(default_factory=list)  # (requirement, how)
    unread: list[tuple[str, str]] = field(default_factory=list)  # (what, why): a requirement it cannot resolve
    system: list[tuple[str, str]] = field(default_factory=list)  # (apt name, version)
    removed_packages: list[str] = field(default_factory=list)
    removed_system: list[str] = field(default_factory=list)
    python: str = ""
    clone: tuple[str, str] | None = None  # (folder, URL)
    checkout: tuple[str, str] | None = None  # (folder, ref)
    step: str = ""
    location: str = ""  # where pip/uv/conda installs: a venv, a prefix, or the system


def words_of(site: Site) -> list[str]:
    return [site.expand(w.value) for w in site.cmd.words]


def absolute(cwd: str, path: str) -> str:
    return posixpath.normpath(path if path.startswith("/") else posixpath.join(cwd or "/", path))


def read_command(site: Site, install: Install | None, context: ContextReader | None) -> Read:
    words = words_of(site)
    out = Read()
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if install is not None:
        _install(site, install, out, context)
        return out
    removal = parse_removal(site.cmd)
    if removal is not None:
        names = [site.expand(w.value) for w in removal.names]
        if removal.tool == "apt":
            out.removed_system = [n.split("=", 1)[0] for n in names]
        else:
            out.removed_packages = [n for n in names if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", n)]
        return out
    line = " ".join(w for w in words if w)  # an empty argument (an unset ARG) leaves no double space
    if not words or program in PLUMBING or _HOUSEKEEPING.match(line):
        return out
    out.step = line
    if re.match(r"^python[\d.]*$", program) and len(words) > 2 and words[1] == "setup.py" \
            and words[2] in ("install", "develop"):
        out.packages.append((Requirement(site.cwd, None, local=True), f"setup.py {words[2]}"))
    out.python = _python_of(words, program)
    if program == "git" and len(words) > 2 and words[1] == "clone":
        skip_values = {"--branch", "-b", "--depth", "--origin", "-o", "--reference", "--config", "-c", "--jobs",
                       "-j", "--filter"}
        args = [w for i, w in enumerate(words[2:], start=2) if not w.startswith("-")
                and words[i - 1] not in skip_values]
        if args:
            url = args[0]
            folder = args[1] if len(args) > 1 else url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            out.clone = (absolute(site.cwd, folder or repo_name(url) or "repo"), url)
    elif program == "git" and len(words) > 2 and words[1] == "checkout":
        refs = [w for w in words[2:] if not w.startswith("-")]
        if refs:
            out.checkout = (site.cwd, refs[0])
    return out


def _python_of(words: list[str], program: str) -> str:
    """The Python version a command sets up: `uv venv --python 3.12`, `uv python install 3.12`,
    `conda create python=3.6`, `sh install-python.sh 3.12`, dockyard's `python.sh STAGE 3.12`."""
    version = re.compile(r"^3\.\d{1,2}$")
    if program == "uv" and len(words) > 2 and words[1] in ("venv", "python"):
        for i, word in enumerate(words):
            if word in ("--python", "-p") and i + 1 < len(words) and version.match(words[i + 1]):
                return words[i + 1]
            if word.startswith("--python=") and version.match(word.split("=", 1)[1]):
                return word.split("=", 1)[1]
        if words[1] == "python" and len(words) > 3 and words[2] == "install" and version.match(words[3]):
            return words[3]
    if program in ("sh", "bash") and len(words) > 1 and _PYTHON_SCRIPTS.search(words[1]):
        found = [w for w in words[2:] if version.match(w)]
        return found[0] if found else ""
    return ""


def _location(site: Site, install: Install) -> str:
    for option in ("--target", "--prefix", "--root"):
        if install.option(option):
            return absolute(site.cwd, site.expand(install.option(option)[0]))
    if install.tool == "conda":
        prefix = install.option("--prefix") or [site.getenv("CONDA_PREFIX") or "/opt/conda"]
        return prefix[0]
    if install.tool == "uv" and (install.has("--system") or site.getenv("UV_SYSTEM_PYTHON")):
        return "/usr"
    head = site.expand(site.cmd.words[0].value) if site.cmd.words else ""
    if "/bin/" in head:
        return head.split("/bin/", 1)[0] or "/usr"
    venv = site.getenv("VIRTUAL_ENV")
    return venv or "/usr"


def _install(site: Site, install: Install, out: Read, context: ContextReader | None) -> None:
    if install.tool == "apt":
        if install.subcommand == "install":
            for word in install.requirements:
                name = site.expand(word.value)
                if name and not name.startswith("-"):
                    base, _, version = name.partition("=")
                    out.system.append((base.split(":", 1)[0], version))
        return
    out.location = _location(site, install)
    if install.tool == "conda":
        for word in install.requirements:
            text = site.expand(word.value)
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", text)
            if not match:
                out.unread.append((text, "a conda package the reader cannot name"))
            elif match.group(1).lower() == "python":
                out.python = match.group(2).lstrip("=<>!~").split("=")[0]
            else:
                out.packages.append((Requirement(text, match.group(1).lower(), match.group(2)), "conda"))
        return
    if install.subcommand not in ("install", "add", "sync"):
        return
    how = _how(site, install)
    where = InstallSite(site, install)
    editable = {site.expand(raw) for raw in install.option("--editable")}
    for req in where.requirements():
        mode = how + (" (editable)" if req.raw in editable else "")
        if req.local and req.name is None:  # a folder: where it is, so that a clone made earlier names it
            folder = re.sub(r"\[[^\]]*\]$", "", req.raw)
            req = Requirement(absolute(site.cwd, folder), None, local=True, extras=req.extras)
        out.packages.append((req, mode))
    for raw in install.option("--requirement"):
        path = absolute(site.cwd, site.expand(raw))
        content = _context_file(site, path, context)
        if content is None:
            out.unread.append((f"-r {site.expand(raw)}", "a requirements file that is not in the build context"))
            continue
        for line in requirement_lines(content):
            out.packages.append((parse_requirement(line), f"{how} (from {site.expand(raw)})"))


def _how(site: Site, install: Install) -> str:
    primary, extra = InstallSite(site, install).index_urls()
    parts = [install.tool]
    parts += [f"--index-url {u}" for u in primary] + [f"--extra-index-url {u}" for u in extra]
    if install.has("--no-deps"):
        parts.append("--no-deps")
    if install.has("--pre"):
        parts.append("--pre")
    if site.cmd.assignments:
        parts.append("with " + " ".join(f"{k}={site.expand(v)}" for k, v in sorted(site.cmd.assignments.items())))
    return " ".join(parts)


def _context_file(site: Site, path: str, context: ContextReader | None) -> str | None:
    """The text of a file a RUN reads at `path`: bind-mounted from the build context."""
    if context is None:
        return None
    for mount in mounts(site.inst):
        if mount.get("type") != "bind" or mount.get("from"):
            continue
        target = absolute("/", site.expand(mount.get("target", "")))
        if path == target or path.startswith(target.rstrip("/") + "/"):
            source = site.expand(mount.get("source", "."))
            relative = posixpath.normpath(posixpath.join(source, path[len(target):].lstrip("/")))
            return context(relative)
    return None


def requirement_lines(text: str, limit: int = 5000) -> list[str]:
    """The requirements of a requirements file: comments, options and hashes left out."""
    out: list[str] = []
    joined = re.sub(r"\\\n", " ", text)
    for raw in joined.splitlines()[:limit]:
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        line = re.sub(r"\s--hash[= ]\S+", "", line).strip()
        if not line or line.startswith("-"):
            continue
        out.append(line)
    return out
