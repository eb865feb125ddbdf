"""`dockyard lock`: resolve every Python package of a plan to an exact version with hashes, with uv.

uv resolves (`uv pip compile --generate-hashes`) for the image's Python and platform, not the host's.
torch and its companions come only from the torch index (an explicit uv index, so no other index can
supply them), or from a matching wheel of the local wheelhouse; everything else from PyPI. Both URLs go
through the site's index map, as a build's do. Base images are recorded by registry digest when the
engine has one, else by local image id.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from dockyard.engine.maps import Maps
from dockyard.errors import DockyardError, InputError
from dockyard.render.blocks.common import PIP_INDEX
from dockyard.render.lockfile import MAGIC, BaseRef, Lock, parse
from dockyard.resolve.plan import Plan

PLATFORMS = {
    "linux/amd64": ("x86_64-manylinux_2_28", "x86_64"),
    "linux/arm64": ("aarch64-manylinux_2_28", "aarch64"),
}
PROJECT = "dockyard-lock"


class LockError(DockyardError):
    """uv could not resolve the plan (a conflict, an index that does not answer)."""


@dataclass(frozen=True)
class LockRequest:
    plan: Plan
    maps: Maps
    platform: str = "linux/amd64"
    wheelhouse: Path | None = None
    ca_cert: str | None = None
    base_refs: tuple[BaseRef, ...] = ()


def torch_family(plan: Plan) -> tuple[str, ...]:
    """What the torch step installs: torch and its companions (torchvision, torchaudio ...)."""
    if plan.torch.build == "none":
        return ()
    return ("torch", *(canonicalize_name(c.name) for c in plan.torch.companions),
            *(canonicalize_name(a.requirement.split("==")[0]) for a in plan.addons if a.index_url))


def other_indexes(plan: Plan) -> dict[str, str]:
    """Companions of the torch step that come from another wheel index (torchcodec's CPU build): name -> URL."""
    return {canonicalize_name(c.name): c.index_url for c in plan.torch.companions if c.index_url}


def requirements(plan: Plan) -> list[str]:
    """Every requirement a build of this plan installs with pip (compiled add-ons and source builds of their
    own step are built, not locked)."""
    reqs: list[str] = []
    torch = plan.torch
    if torch.build != "none":
        for package in (("torch", torch.version), *((c.name, c.version) for c in torch.companions)):
            reqs.append(f"{package[0]}=={package[1]}" if package[1] else package[0])
    reqs += [p.requirement() for p in plan.packages]
    if torch.xla:
        reqs.append(torch.xla.requirement())
    reqs += [a.requirement for a in plan.addons if not a.compile and not a.own_step and a.requirement]
    tf = plan.transformers
    extras = f"[{','.join(tf.extras)}]" if tf.extras else ""
    if tf.url:
        reqs.append(f"transformers{extras} @ {tf.url}")
    elif tf.version:
        reqs.append(f"transformers{extras}=={tf.version}")
    return sorted(dict.fromkeys(reqs), key=str.lower)


def wheel_for(wheelhouse: Path | None, name: str, version: str | None, python: str, arch: str) -> Path | None:
    """A wheel of name==version (any local label) in the wheelhouse that installs on this Python and arch."""
    if wheelhouse is None or version is None or not wheelhouse.is_dir():
        return None
    interpreter = "cp" + python.replace(".", "")
    for path in sorted(wheelhouse.glob("*.whl")):
        try:
            project, found, _, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if project != canonicalize_name(name) or found.base_version != version.split("+")[0]:
            continue
        if any(t.interpreter in (interpreter, "py3") and (t.platform == "any" or t.platform.endswith(arch))
               for t in tags):
            return path
    return None


def pyproject(plan: Plan, torch_index: str, wheels: dict[str, Path], maps: Maps | None = None) -> str:
    """The uv input: the plan's requirements, torch's family pinned to its index (a companion from another
    index to that one) or a wheelhouse file."""
    family = torch_family(plan)
    others = other_indexes(plan)
    lines = ["[project]", f'name = "{PROJECT}"', 'version = "0"', f'requires-python = "=={plan.python}.*"',
             "dependencies = ["]
    lines += [f"    {json.dumps(r)}," for r in requirements(plan)]
    lines.append("]")
    if family:
        lines += ["", "[[tool.uv.index]]", 'name = "torch"', f"url = {json.dumps(torch_index)}", "explicit = true"]
        for name, url in sorted(others.items()):
            mapped = maps.index_url(url) if maps else url
            lines += ["", "[[tool.uv.index]]", f'name = "{name}"', f"url = {json.dumps(mapped)}", "explicit = true"]
        lines += ["", "[tool.uv.sources]"]
        for name in family:
            index = name if name in others else "torch"
            source = f"{{ path = {json.dumps(str(wheels[name]))} }}" if name in wheels else f'{{ index = "{index}" }}'
            lines.append(f"{name} = {source}")
    return "\n".join(lines) + "\n"


def find_uv() -> str:
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found, unused-ignore]

        found: str = find_uv_bin()
        return found
    except (ImportError, FileNotFoundError):
        pass
    path = shutil.which("uv")
    if not path:
        raise InputError("dockyard lock needs uv, which is not installed", "pip install uv")
    return path


def _wheel_line(match: re.Match[str]) -> str:
    name, version, _, _ = parse_wheel_filename(Path(match["path"]).name)
    return f"{name}=={version}"


WHEEL_PATH = re.compile(r"^(?:file://)?(?P<path>/\S+\.whl)(?=\s|$)", re.MULTILINE)


def from_uv(output: str, request: LockRequest, resolver: str, notes: list[str], indexes: list[str]) -> Lock:
    """uv's requirements output -> a Lock (wheelhouse paths become name==version with the file's hash)."""
    plan = request.plan
    body = WHEEL_PATH.sub(_wheel_line, output)
    parsed = parse(f"{MAGIC}\n# spec-digest: {plan.digest}\n# python: {plan.python}\n#\n{body}", "uv output")
    cleaned = []
    for package in parsed.packages:
        via = tuple(sorted({"spec" if v.startswith(PROJECT) or v.startswith("-r ") else v for v in package.via}))
        cleaned.append(replace(package, via=via))
    return Lock(spec=plan.spec.source, spec_digest=plan.digest, name=plan.name, python=plan.python,
                platform=PLATFORMS[request.platform][0], target=plan.target, torch_family=torch_family(plan),
                index=tuple(indexes), resolver=resolver, base_image=request.base_refs, note=tuple(notes),
                packages=tuple(cleaned))


def make_lock(request: LockRequest, uv: str | None = None) -> Lock:
    plan = request.plan
    if request.platform not in PLATFORMS:
        raise InputError(f"--platform {request.platform}: dockyard locks for {', '.join(PLATFORMS)}")
    platform, arch = PLATFORMS[request.platform]
    pypi = request.maps.index_url(PIP_INDEX)
    torch_index = request.maps.index_url(plan.torch.index_url) if plan.torch.index_url else pypi
    wheels = {name: path for name in torch_family(plan)
              if (path := wheel_for(request.wheelhouse, name, _version_of(plan, name), plan.python, arch))}
    indexes = [f"pypi {pypi}"]
    if torch_family(plan):
        mapped = "" if torch_index == plan.torch.index_url else f" (mapped to {torch_index})"
        indexes.append(f"torch {plan.torch.index_url}{mapped}")
        indexes += [f"{name} {url}" for name, url in sorted(other_indexes(plan).items())]
    if wheels:
        indexes.append(f"wheelhouse {request.wheelhouse}: {', '.join(p.name for p in wheels.values())}")
    notes = [f"{a.name} is {'compiled' if a.compile else 'built'} from source in the build and not locked"
             for a in plan.addons if a.compile or a.own_step]
    if plan.transformers.editable:
        notes.append("transformers is installed editable from its source archive; its dependencies are locked")
    uv = uv or find_uv()
    version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.split()
    resolver = f"uv {version[1]}" if len(version) > 1 else "uv"
    with tempfile.TemporaryDirectory(prefix="dockyard-lock-") as folder:
        (Path(folder) / "pyproject.toml").write_text(pyproject(plan, torch_index, wheels, request.maps),
                                                      encoding="utf-8")
        argv = [uv, "pip", "compile", "pyproject.toml", "--generate-hashes", "--no-header", "--quiet",
                "--python-version", plan.python, "--python-platform", platform, "--index-url", pypi,
                "--output-file", "out.txt"]
        if plan.torch.channel == "nightly":
            argv += ["--prerelease", "allow"]
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, env=_uv_env(request.ca_cert))
        if done.returncode != 0:
            detail = "\n".join(done.stderr.strip().splitlines()[-12:])
            raise LockError(f"uv could not lock {plan.name}:\n{detail}",
                            "check the packages and the index (a TLS proxy needs --ca-cert)")
        output = (Path(folder) / "out.txt").read_text(encoding="utf-8")
    return from_uv(output, request, resolver, notes, indexes)


def _version_of(plan: Plan, name: str) -> str | None:
    if name == "torch":
        return plan.torch.version
    return next((c.version for c in plan.torch.companions if canonicalize_name(c.name) == name),
                next((a.version for a in plan.addons if a.index_url
                      and canonicalize_name(a.requirement.split("==")[0]) == name), None))


def _uv_env(ca_cert: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if ca_cert:
        env["SSL_CERT_FILE"] = ca_cert
    env.pop("UV_INDEX_URL", None)
    env.pop("UV_EXTRA_INDEX_URL", None)
    return env


def base_refs(plan: Plan, maps: Maps, inspect: object | None) -> tuple[BaseRef, ...]:
    """Each base image: registry digest when the engine has one, else the local image id, else "-"."""
    bases = [("BASE_IMAGE", plan.runtime_base)]
    if plan.builder_base != plan.runtime_base:
        bases.append(("BUILDER_IMAGE", plan.builder_base))
    refs = []
    for arg, name in bases:
        used = maps.base_image(name)
        data = inspect(used) if callable(inspect) else None
        ref = "-"
        if isinstance(data, dict):
            digests: Sequence[str] = data.get("RepoDigests") or ()
            ref = digests[0] if digests else str(data.get("Id", "-"))
        refs.append(BaseRef(arg, name, used, ref))
    return tuple(refs)


def base_drift(plan: Plan, maps: Maps, inspect: object) -> list[str]:
    """Warnings for base images that are not the ones the spec's lock recorded."""
    if not plan.spec.lock:
        return []
    try:
        lock = parse((Path(plan.spec.root) / plan.spec.lock).read_text(encoding="utf-8"), plan.spec.lock)
    except (OSError, InputError):
        return []  # render reports an unreadable lock
    warnings = []
    for base in lock.base_image:
        if base.ref == "-" or not callable(inspect):
            continue
        used = maps.base_image(base.name)
        data = inspect(used)
        have = [str(d) for d in (data or {}).get("RepoDigests") or []] + [str((data or {}).get("Id", ""))]
        if base.ref not in have:
            warnings.append(f"{base.arg} {used} is not the image the lock recorded ({base.ref[:26]}…): the build "
                            "may differ; lock again (dockyard lock) or restore that base image")
    return warnings
