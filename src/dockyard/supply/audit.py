"""`dockyard audit IMAGE`: what a built image carries and whether it is fit to run.

Reads the saved image (every layer, the config, the history) and reports: the user; the size by layer,
by directory, by Python package and by Debian package (the bytes on disk, and the chain of
dependencies that pulled each package in), with bytecode, caches, headers, docs, tests and static libraries
counted; compilers; setuid/setgid files (and which the image added to its base); secrets in any layer
(also files a later layer deleted), in the config and in the history; entrypoint, init and healthcheck.
A secret is a failure; the rest are warnings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from dockyard.engine.backends import Backend
from dockyard.engine.maps import Maps
from dockyard.engine.report import instruction_text
from dockyard.spec.secrets import looks_secret
from dockyard.supply import debian, layout, owners
from dockyard.supply.archive import Entry, Layer, SavedImage, file_digests, read_archive, read_chunks, saved
from dockyard.supply.scan import (
    Finding,
    Needle,
    StreamScanner,
    certificate_bodies,
    is_credential_file,
    redact_text,
    scan_bytes,
)

MB = 1_000_000
PUBLIC_CAS = "/usr/share/ca-certificates/"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | info | warn | fail
    detail: str


@dataclass
class AuditReport:
    image: str
    image_id: str
    size: int
    user: str
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: dict[str, Any] | None
    labels: dict[str, str]
    layers: list[dict[str, Any]]
    directories: list[tuple[str, int]]
    packages: list[layout.PackageSize]
    apt: list[debian.AptSize]
    categories: dict[str, int]
    compilers: list[str]
    setuid: list[dict[str, Any]]
    findings: list[Finding]
    base_layers: int | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image, "image_id": self.image_id, "ok": self.ok, "size": self.size, "user": self.user,
            "entrypoint": self.entrypoint, "cmd": self.cmd, "healthcheck": self.healthcheck, "labels": self.labels,
            "layers": self.layers, "base_layers": self.base_layers,
            "directories": [{"path": p, "size": s} for p, s in self.directories],
            "packages": [p.__dict__ for p in self.packages], "apt": [p.to_json() for p in self.apt],
            "categories": self.categories,
            "compilers": self.compilers, "setuid": self.setuid,
            "findings": [f.to_json() for f in self.findings],
            "checks": [c.__dict__ for c in self.checks],
        }


class _Visitor:
    """Per file: secrets scan; keeps package manifests (RECORD, md5sums) and the image's public CAs."""

    def __init__(self, needles: tuple[Needle, ...]) -> None:
        self.needles = needles
        self.hits: list[tuple[Entry, str, str]] = []
        self.manifests: dict[str, str] = {}
        self.dpkg: dict[str, str] = {}  # status and info/*.list
        self.public: set[str] = set()

    def __call__(self, layer: Layer, entry: Entry, handle: IO[bytes]) -> None:
        scanner = StreamScanner(self.needles)
        dpkg = debian.is_dpkg_record(entry.path)
        keep = owners.is_manifest(entry.path) or dpkg or entry.path.startswith(PUBLIC_CAS)
        content = bytearray()
        for chunk in read_chunks(handle):
            scanner.feed(chunk)
            if keep:
                content += chunk
        if owners.is_manifest(entry.path):
            self.manifests[entry.path] = content.decode("utf-8", "replace")
        elif dpkg:
            self.dpkg[entry.path] = content.decode("utf-8", "replace")
        elif keep:
            self.public |= certificate_bodies(bytes(content))
        for kind, hint in scanner.results():
            self.hits.append((entry, kind, hint))

    @property
    def records(self) -> dict[str, str]:
        return {p: t for p, t in self.manifests.items() if p.endswith("/RECORD")}


def _user(config: dict[str, Any]) -> str:
    return str(config.get("User") or "") or "root"


def _is_root(user: str) -> bool:
    return user.split(":")[0] in ("", "0", "root")


def scan_config(config: dict[str, Any], needles: tuple[Needle, ...]) -> list[Finding]:
    findings = []
    body = {k: v for k, v in config.items() if k != "history"}
    for kind, hint in scan_bytes(json.dumps(body).encode(), needles):
        findings.append(Finding(kind, "config (environment, labels, entrypoint)", hint))
    for item in (config.get("config") or {}).get("Env") or []:
        name, _, value = str(item).partition("=")
        if looks_secret(name) and value:
            findings.append(Finding("secret-looking environment variable", f"config Env {name}", "value not shown"))
    for step, entry in enumerate(config.get("history") or [], 1):
        text = str(entry.get("created_by", ""))
        for kind, hint in scan_bytes(text.encode(), needles):
            shown = instruction_text(redact_text(text, needles), 80)  # where, never what
            findings.append(Finding(kind, f"history step {step}: {shown}", hint))
    return findings


def file_findings(visitor: _Visitor, merged: dict[str, Entry], image: SavedImage) -> list[Finding]:
    # a certificate the image's ca-certificates package ships is public, whoever handed it in
    public_labels = {n.label for n in visitor.needles
                     if any(n.data.decode("ascii", "replace") in body for body in visitor.public)}
    manifests = owners.load(owners.Manifests(), visitor.manifests)
    digests = file_digests(image, {(e.layer, e.path) for e, kind, _ in visitor.hits if kind != "given value"})
    findings = []
    for entry, kind, hint in visitor.hits:
        if kind == "given value" and hint in public_labels:
            continue
        md5, sha256 = digests.get((entry.layer, entry.path), ("", ""))
        owner = owners_of(manifests, entry.path, md5, sha256) if kind != "given value" else ""
        findings.append(Finding(kind, f"layer {entry.layer} {entry.path}", hint, _note(entry, merged), owner))
    for layer in image.layers:
        for entry in layer.entries:
            if entry.kind == "file" and entry.size and is_credential_file(entry.path):
                findings.append(Finding("credential file", f"layer {entry.layer} {entry.path}",
                                        f"{entry.size} bytes", _note(entry, merged)))
    return findings


def owners_of(manifests: owners.Manifests, path: str, md5: str, sha256: str) -> str:
    return manifests.owner(path, md5, sha256) if md5 else ""


def _note(entry: Entry, merged: dict[str, Entry]) -> str:
    current = merged.get(entry.path)
    if current is None or current.layer != entry.layer:
        return "deleted or replaced by a later layer, but still stored in the image"
    return ""


def audit_archive(path: Path, image: str, needles: tuple[Needle, ...] = (), base_layers: int | None = None,
                  image_id: str = "") -> AuditReport:
    visitor = _Visitor(needles)
    saved_image = read_archive(path, visitor)
    merged = saved_image.filesystem()
    files = [e for e in merged.values() if e.kind == "file"]
    config = saved_image.config
    run = config.get("config") or {}
    findings = file_findings(visitor, merged, saved_image) + scan_config(config, needles)
    setuid_rows = [{"path": e.path, "mode": oct(e.mode & 0o7777), "layer": e.layer,
                    "added": None if base_layers is None else e.layer >= base_layers} for e in layout.setuid(files)]
    report = AuditReport(
        image=image, image_id=image_id, size=sum(layer.size for layer in saved_image.layers), user=_user(run),
        entrypoint=[redact_text(str(a), needles) for a in run.get("Entrypoint") or []],
        cmd=[redact_text(str(a), needles) for a in run.get("Cmd") or []], healthcheck=run.get("Healthcheck"),
        labels={str(k): redact_text(str(v), needles) for k, v in (run.get("Labels") or {}).items()},
        layers=[{"index": layer.index, "size": layer.size, "files": len(layer.entries),
                 "instruction": instruction_text(redact_text(layer.created_by, needles), 110)}
                for layer in saved_image.layers],
        directories=layout.directories(files), packages=layout.packages(files, visitor.records),
        apt=debian.apt_sizes(files, visitor.dpkg),
        categories=layout.categories(files), compilers=layout.compilers(merged.values()), setuid=setuid_rows,
        findings=findings, base_layers=base_layers,
    )
    report.checks = checks(report)
    return report


def checks(report: AuditReport) -> list[Check]:
    result = [
        Check("user", "warn" if _is_root(report.user) else "ok",
              "runs as root" if _is_root(report.user) else f"runs as {report.user}"),
        secrets_check(report.findings),
        Check("compilers", "warn" if report.compilers else "ok",
              ", ".join(PurePosixPath(p).name for p in report.compilers[:8]) or "none"),
    ]
    for name, kind in (("headers", "headers"), ("package caches", "caches")):
        size = report.categories.get(kind, 0)
        result.append(Check(name, "warn" if size > MB else "ok", f"{size / MB:.1f} MB"))
    added = [row for row in report.setuid if row["added"]]
    if report.base_layers is None:
        result.append(Check("setuid/setgid files", "info", f"{len(report.setuid)} (base image unknown: cannot say "
                                                           "which the image added)"))
    else:
        result.append(Check("setuid/setgid files added", "warn" if added else "ok",
                            ", ".join(r["path"] for r in added) or f"none ({len(report.setuid)} from the base)"))
    exec_form = bool(report.entrypoint) and report.entrypoint[:2] != ["/bin/sh", "-c"]
    init = layout.has_init(report.entrypoint)
    result.append(Check("entrypoint", "ok" if exec_form and init else "warn",
                        f"{json.dumps(report.entrypoint)}" + ("" if init else " (no init: signals may be lost)")))
    result.append(Check("healthcheck", "info", json.dumps((report.healthcheck or {}).get("Test")) if
                        report.healthcheck else "none (a server image should declare one)"))
    return result


def secrets_check(findings: list[Finding]) -> Check:
    leaked = [f for f in findings if not f.owner]
    public = len(findings) - len(leaked)
    aside = f"; {public} in files that still match their package's published hash (public content)" if public else ""
    if leaked:
        return Check("secrets", "fail", f"{len(leaked)} found{aside}")
    return Check("secrets", "ok", f"none in any layer, the config or the history{aside}")


def base_layer_count(backend: Backend, config: dict[str, Any], maps: Maps, base: str | None) -> int | None:
    """How many of the image's layers its base image has (by diff id), from --base or the OCI base label."""
    labels = (config.get("Config") or config.get("config") or {}).get("Labels") or {}
    name = base or labels.get("org.opencontainers.image.base.name")
    if not name:
        return None
    data = backend.inspect(maps.base_image(name)) or backend.inspect(name)
    if data is None:
        return None
    theirs = list((data.get("RootFS") or {}).get("Layers") or [])
    ours = list((config.get("RootFS") or {}).get("Layers") or [])
    count = 0
    for mine, base_layer in zip(ours, theirs, strict=False):
        if mine != base_layer:
            break
        count += 1
    return count


def audit_image(backend: Backend, image: str, needles: tuple[Needle, ...], maps: Maps,
                base: str | None = None) -> AuditReport:
    data = backend.inspect(image)
    base_layers = base_layer_count(backend, data or {}, maps, base) if data else None
    with saved(backend, image) as archive:
        return audit_archive(archive, image, needles, base_layers, str((data or {}).get("Id", "")))
