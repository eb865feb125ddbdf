"""Extractors for explain's signatures: each reads a failed build's lines and returns the details
(image, package, requirement, arch, ...) that a signature's cause and fix name."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dockyard.diagnose.data import variants_for_capability


def _first(lines: Sequence[str], pattern: str, group: int = 1) -> str:
    regex = re.compile(pattern)
    for line in lines:
        if m := regex.search(line):
            return m.group(group)
    return ""


def _all(lines: Sequence[str], pattern: str, group: int = 1) -> list[str]:
    regex = re.compile(pattern)
    found: list[str] = []
    for line in lines:
        for m in regex.finditer(line):
            if m.group(group) not in found:
                found.append(m.group(group))
    return found


def tls(lines: Sequence[str]) -> dict[str, str]:
    host = _first(lines, r"host='([^']+)'") or _first(lines, r"https://([^/\s:'\"]+)")
    return {"host": host} if host else {}


def image(lines: Sequence[str]) -> dict[str, str]:
    image = (_first(lines, r"failed to resolve source metadata for (\S+?):? ")
             or _first(lines, r"> \[internal\] load metadata for (\S+?):?$"))
    if not image and (m := _first(lines, r"https://[^/]+/v2/([^\"]+/manifests/[^\"]+)\"")):
        repo, _, tag = m.partition("/manifests/")
        image = f"{repo}:{tag}"
    image = (image
             or _first(lines, r"initializing source docker://(\S+?):? ")
             or _first(lines, r"short-name \"([^\"]+)\"")
             or _first(lines, r"pull access denied for ([^,\s]+)")
             or _first(lines, r"manifest for (\S+) not found")
             or _first(lines, r"Trying to pull (\S+?)\.\.\."))
    image = re.sub(r"^(?:docker\.io/)?library/|^docker\.io/", "", image)  # as a Dockerfile names it
    return {"image": image} if image else {}


def apt(lines: Sequence[str]) -> dict[str, str]:
    packages = _all(lines, r"E: Unable to locate package (\S+)") + \
        _all(lines, r"E: Package '([^']+)' has no installation candidate") + \
        _all(lines, r"E: Couldn't find any package by (?:glob|regex) '([^']+)'")
    return {"packages": ", ".join(packages)} if packages else {}


def pip_conflict(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    if requested := _first(lines, r"Cannot install (.+?) because these package versions have conflicting"):
        details["requested"] = requested
    conflicts: list[str] = []
    for index, line in enumerate(lines):
        if line.strip() == "The conflict is caused by:":
            for follow in lines[index + 1:]:
                if not follow.strip() or follow.startswith("To fix this"):
                    break
                if follow.strip() not in conflicts:
                    conflicts.append(follow.strip())
    for index, line in enumerate(lines):  # uv: "× No solution found ..." then an indented explanation
        if "No solution found when resolving dependencies" in line:
            for follow in lines[index + 1:]:
                text = follow.strip().lstrip("╰─▶").strip()
                if not text or not follow.startswith(" "):
                    break
                if text.rstrip(".") not in conflicts:
                    conflicts.append(text.rstrip("."))
    if conflicts:
        details["conflicts"] = "; ".join(conflicts[:6])
    return details


def no_dist(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    if m := _first(lines, r"No matching distribution found for (\S+)"):
        details["requirement"] = m
    versions = _first(lines, r"\(from versions: ([^)]*)\)")
    if versions:
        listed = [v.strip() for v in versions.split(",") if v.strip()]
        shown = listed if len(listed) <= 8 else [*listed[:2], "...", *listed[-5:]]
        details["versions"] = ", ".join(shown) if listed else "none"
    if m := _first(lines, r"requires a different Python: (\S+) not in '([^']+)'", 0):
        details["python"] = m
    py = _first(lines, r"(?:python|cpython-|cp)3\.?(\d{1,2})\b")
    if py and "python" not in details:
        details["python"] = f"Python 3.{py}"
    return details


def nvcc(lines: Sequence[str]) -> dict[str, str]:
    base = _first(lines, r"((?:nvidia/cuda|nvcr\.io/nvidia/\S+):\S*-(?:runtime|base)-\S+?):?$")
    return {"base": f" (here {base})"} if base else {}


def enospc(lines: Sequence[str]) -> dict[str, str]:
    path = (_first(lines, r"error writing '([^']+)': No space left") or _first(lines, r"write (\S+): no space left")
            or _first(lines, r"\[Errno 28\] No space left on device: '([^']+)'"))
    return {"path": path} if path else {}


def oom(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    program = _first(lines, r"Killed signal terminated program (\S+)") or _first(lines, r"'(\w+)' died due to signal 9")
    if program:
        details["program"] = program
    if jobs := _first(lines, r"\bMAX_JOBS=(\d+)"):
        details["max_jobs"] = jobs
    return details


def kernel(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    regex = re.compile(r"^(.*?) with CUDA capability sm_(\d+)(\d) is not compatible")
    for line in lines:
        if m := regex.search(line):
            details.update(gpu=m.group(1).strip(), arch=f"sm_{m.group(2)}{m.group(3)}")
            if variants := variants_for_capability(f"{m.group(2)}.{m.group(3)}"):
                details["variants"] = ", ".join(variants)
            break
    if supported := _first(lines, r"supports CUDA capabilities ((?:sm_\d+\s*)+)"):
        details["supported"] = supported.strip()
    return details


def symbol(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    if m := re.search(r"(\S+\.so[\w.]*): undefined symbol: (\S+)", "\n".join(lines)):
        details.update(library=m.group(1), symbol=m.group(2))
    old = _first(lines, r"Found existing installation: torch (\S+)")
    new = _first(lines, r"Successfully installed .*\btorch-(\d\S*)")
    if old and new and old != new:
        details["replaced"] = f"torch {old} was replaced by torch {new} in an earlier step"
    return details


def arch(lines: Sequence[str]) -> dict[str, str]:
    arch = _first(lines, r"Unsupported gpu architecture '(compute_\d+\w?)'")
    return {"arch": arch} if arch else {}


def rocm(lines: Sequence[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    packages = _all(lines, r"\b(nvidia-[a-z0-9-]+-cu1\d)\b") + _all(lines, r"\b(py3?nvml|nvidia-ml-py)\b")
    if packages:
        details["packages"] = ", ".join(sorted(set(packages))[:6])
    old = _first(lines, r"Found existing installation: torch (\S+\+rocm\S*)")
    new = _first(lines, r"Successfully installed .*\btorch-(\d\S*)")
    if old and new:
        details["replaced"] = f"torch {old} was replaced by torch {new}"
    return details


def secret(lines: Sequence[str]) -> dict[str, str]:
    secret = _first(lines, r"/run/secrets/([\w.-]+)") or _first(lines, r"secret ([\w.-]+):? not found")
    return {"secret": secret} if secret else {}


def feature(lines: Sequence[str]) -> dict[str, str]:
    features = (
        (r"buildx component is missing", "this docker client has no buildx plugin"),
        (r"the --mount option requires BuildKit", "RUN --mount needs BuildKit (the legacy builder ran)"),
        (r"requires BuildKit", "a Dockerfile option needs BuildKit (the legacy builder ran)"),
        (r"unknown flag: --build-context", "--build-context (named contexts) needs buildx or podman >= 4.3"),
        (r"unknown (?:flag|shorthand flag).*--secret|unknown flag: --ssh", "build secrets need BuildKit"),
        (r"is not a docker command|unknown command \"?(?:buildx|bake)", "buildx/bake are not installed"),
        (r"dockerfile parse error.*unknown instruction", "a Dockerfile line this frontend does not know (a typo, "
                                                         "or a heredoc `RUN <<EOF` that needs dockerfile 1.4+)"),
        (r"Dockerfile parse error.*unknown flag", "a newer instruction flag (COPY --link/--chmod/--parents)"),
    )
    text = "\n".join(lines)
    for pattern, feature in features:
        if re.search(pattern, text, flags=re.I):
            return {"feature": feature}
    return {}


def frontend(lines: Sequence[str]) -> dict[str, str]:
    image = _first(lines, r"resolve image config for (\S+)")
    return {"frontend": image.rstrip(":")} if image else {}


def hub(lines: Sequence[str]) -> dict[str, str]:
    """The Hub the build asked (dockyard's own line names it) and the connection error it got."""
    details = {}
    endpoint = _first(lines, r"dockyard: cannot reach the Hugging Face Hub at (\S+?)[:;,]? ")
    if endpoint:
        details["endpoint"] = endpoint
    error = (_first(lines, r"(Name or service not known|Temporary failure in name resolution|Connection refused|"
                           r"Network is unreachable|timed out|No route to host)"))
    if error:
        details["error"] = error
    return details
