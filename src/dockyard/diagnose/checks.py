"""Doctor's checks of the engine, the host and the network: each a function of `Facts` -> `Check`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dockyard.diagnose.facts import (
    HUB_ENDPOINT,
    PYPI_HOST,
    REGISTRY_HOST,
    Facts,
    capabilities_dict,
    first_line,
    podman_engine,
)
from dockyard.diagnose.host import Check, Status
from dockyard.engine.detect import DOCKER_HINT_INSTALL, DOCKER_HINT_START, docker_engine
from dockyard.hostsize import GIB, matrix_concurrency, max_jobs

DISK_FAIL_GIB = 10
DISK_WARN_GIB = 40
MEMORY_WARN_GIB = 8
FEATURE_LABELS = {
    "cache_mounts": "cache mounts", "secret_mounts": "secret mounts", "bind_mounts": "bind mounts",
    "named_contexts": "named contexts", "bake": "bake",
}
CA_SECRET_FIX = ('hand the bundle to builds as a secret, never COPY it: `--secret id=ca,src="$PIP_CERT"` and '
                 "`RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca "
                 "pip install ...`")


def features(caps: Mapping[str, bool]) -> str:
    have = [label for key, label in FEATURE_LABELS.items() if caps.get(key)]
    lack = [label for key, label in FEATURE_LABELS.items() if not caps.get(key)]
    text = f"has {', '.join(have) or 'none of the BuildKit features'}"
    return text + (f"; lacks {', '.join(lack)}" if lack else "")


def check_docker(facts: Facts) -> Check:
    """Docker clients and whether their daemon answers."""
    other_ok = bool(facts.podman) and facts.backend != "docker"
    if not facts.docker:
        return Check("docker", "warn" if other_ok else "fail", "no docker client found", DOCKER_HINT_INSTALL)
    lines = []
    for probe in facts.docker:
        if probe.server_version:
            lines.append(f"{probe.path}: client {probe.client_version}, server {probe.server_version}")
        else:
            reason = first_line(probe.server_error) or "no answer"
            client = probe.client_version or "?"
            lines.append(f"{probe.path}: client {client}, daemon does not answer ({reason})")
    if any(p.server_version for p in facts.docker):
        return Check("docker", "ok", "; ".join(lines))
    return Check("docker", "warn" if other_ok else "fail", "; ".join(lines), DOCKER_HINT_START)


def check_buildkit(facts: Facts) -> Check:
    """The best BuildKit path of the docker clients (buildx, DOCKER_BUILDKIT=1, legacy) and its features."""
    live = [p for p in facts.docker if p.server_version]
    if not live:
        return Check("buildkit", "skip", "no docker daemon to build with")
    rank = {"buildx": 0, "buildkit-env": 1, "legacy": 2}
    ranked = sorted(((docker_engine(p), p) for p in live), key=lambda item: rank[item[0].mode])
    best, best_probe = ranked[0]
    notes = [f"{probe.path} (client {probe.client_version}) has no buildx: BuildKit builds with it fail with "
             "'BuildKit is enabled but the buildx component is missing or broken'"
             for engine, probe in ranked[1:] if engine.mode == "legacy"]
    caps = capabilities_dict(best)
    if best.mode == "buildx":
        detail = f"{best.client}: {best_probe.buildx_version or 'buildx'}; {features(caps)}"
        return Check("buildkit", "ok", "; ".join([detail, *notes]))
    if best.mode == "buildkit-env":
        detail = (f"{best.client} (client {best.client_version}) builds with BuildKit through "
                  f"DOCKER_BUILDKIT=1; {features(caps)}; `# syntax=` frontends need a registry")
        fix = ("dockyard uses this client and does without named contexts and bake; to get them install the "
               "buildx plugin (Debian `docker-buildx`, Docker's repository `docker-buildx-plugin`)")
        return Check("buildkit", "warn", "; ".join([detail, *notes]), fix)
    detail = f"{best.client} (client {best.client_version}) has only the legacy builder: RUN --mount fails"
    return Check("buildkit", "warn" if facts.podman else "fail", "; ".join([detail, *notes]),
                 "install the buildx plugin, or use a docker client older than 23.0 with DOCKER_BUILDKIT=1, "
                 "or `--backend podman`")


def check_podman(facts: Facts) -> Check:
    if not facts.podman_path:
        return Check("podman", "skip", "podman is not installed (optional daemonless backend)",
                     "as root: `apt-get install -y podman`")
    if facts.podman_error or not facts.podman:
        return Check("podman", "fail", f"{facts.podman_path} does not answer: {facts.podman_error}",
                     "check `podman info`; rootless podman needs subuid/subgid ranges for the user")
    info = facts.podman
    caps = capabilities_dict(podman_engine(facts))
    detail = (f"{info['path']}: podman {info['version']} (Buildah {info['buildah_version'] or '?'}), "
              f"{'rootless' if info['rootless'] else 'rootful'}; {features(caps)}")
    return Check("podman", "ok", detail)


def check_engine(facts: Facts) -> Check:
    """The engine `dockyard build --backend ...` would use."""
    if facts.engine is not None:
        return Check("engine", "ok", f"--backend {facts.backend}: {facts.engine.describe()}")
    error = facts.engine_error
    return Check("engine", "fail", f"--backend {facts.backend}: {error.message if error else 'no engine'}",
                 error.hint if error and error.hint else DOCKER_HINT_INSTALL)


def check_disk(facts: Facts) -> Check:
    path, free = facts.disk.get("path"), facts.disk.get("free_bytes")
    if not path or free is None:
        return Check("disk", "skip", "engine data root unknown", group="host")
    gib = free / GIB
    detail = f"{gib:.0f} GiB free in {path}"
    fix = ("free space: `docker system df`, `docker builder prune`, `docker image prune`; or move the data "
           "root (`data-root` in /etc/docker/daemon.json, `graphroot` in containers/storage.conf)")
    if gib < DISK_FAIL_GIB:
        return Check("disk", "fail", f"{detail}: a torch image build needs 10-30 GiB", fix, "host")
    if gib < DISK_WARN_GIB:
        return Check("disk", "warn", f"{detail}: enough for CPU images, tight for CUDA devel images "
                     "(20-30 GiB)", fix, "host")
    return Check("disk", "ok", detail, group="host")


def check_registry(facts: Facts) -> Check:
    if facts.registry_error is None:
        return Check("registry", "skip", "network checks disabled (--offline)", group="network")
    if not facts.registry_error:
        return Check("registry", "ok", f"{REGISTRY_HOST} reachable", group="network")
    mirrors = (facts.docker_info.get("RegistryConfig") or {}).get("Mirrors") or []
    detail = f"{REGISTRY_HOST} not reachable ({facts.registry_error})"
    detail += f"; dockerd mirrors: {', '.join(mirrors)}" if mirrors else ""
    return Check("registry", "warn", detail,
                 "every FROM must name an image already in the engine (`docker images`): load bases with "
                 "`docker load` or `docker import`; avoid `# syntax=` lines and `@sha256:` digest pins, "
                 "which need a registry", "network")


def check_hub(facts: Facts) -> Check:
    """Whether a `hub:` model can download at build time: the Hub, or the mirror HF_ENDPOINT names."""
    where = f"{facts.hub_endpoint}" + (" (HF_ENDPOINT)" if facts.hub_endpoint != HUB_ENDPOINT else "")
    if facts.hub_error is None:
        return Check("hub", "skip", "network checks disabled (--offline)", group="network")
    if not facts.hub_error:
        return Check("hub", "ok", f"{where} reachable: hub: models download at build time", group="network")
    return Check("hub", "warn", f"{where} not reachable ({facts.hub_error})",
                 "a serve spec's hub: model downloads at build time: set HF_ENDPOINT to a mirror the build can "
                 "reach (`dockyard build --build-arg HF_ENDPOINT=URL`), or use a path: model (a folder saved "
                 "where the Hub answers) or a mount: model", "network")


def check_proxy(facts: Facts) -> Check:
    """Proxies (credentials masked), CA bundles, and whether TLS to PyPI is intercepted."""
    parts = []
    if facts.proxies:
        parts.append("proxy " + ", ".join(f"{k}={v}" for k, v in sorted(facts.proxies.items())))
    ca = next((facts.ca_files[k] for k in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
               if k in facts.ca_files), "")
    if ca:
        names = ", ".join(sorted(k for k, v in facts.ca_files.items() if v == ca))
        parts.append(f"CA bundle {ca} ({names})")
    tls = facts.tls
    if tls is None:
        return Check("proxy-ca", "ok", "; ".join(parts) or "no proxy or custom CA configured",
                     group="network")
    if not tls.reachable:
        parts.append(f"{PYPI_HOST} not reachable ({tls.error})")
        return Check("proxy-ca", "warn", "; ".join(parts),
                     "pip in builds needs PyPI or a mirror: set PIP_INDEX_URL, or HTTPS_PROXY", "network")
    if tls.error:
        parts.append(tls.error)
        return Check("proxy-ca", "fail", "; ".join(parts),
                     "point PIP_CERT and SSL_CERT_FILE at a CA bundle that includes the proxy's CA",
                     "network")
    if tls.intercepted:
        parts.insert(0, f"TLS to {PYPI_HOST} is intercepted (only the local CA bundle trusts its "
                        "certificate): pip in a container without that bundle fails with "
                        "CERTIFICATE_VERIFY_FAILED")
        if ca:
            return Check("proxy-ca", "ok", "; ".join(parts) + "; builds must get it as a build secret",
                         CA_SECRET_FIX, "network")
        return Check("proxy-ca", "warn", "; ".join(parts),
                     f"export PIP_CERT=/path/to/ca-bundle.crt; {CA_SECRET_FIX}", "network")
    parts.append(f"{PYPI_HOST} reachable " + ("(no public CA bundle here to tell whether TLS is intercepted)"
                                              if tls.intercepted is None else "with a public certificate"))
    return Check("proxy-ca", "ok", "; ".join(parts), group="network")


def check_resources(facts: Facts) -> Check:
    gib = facts.mem_bytes / GIB
    detail = (f"{gib:.1f} GiB memory{' (cgroup limit)' if facts.mem_limited else ''}, {facts.cores} cores: "
              f"MAX_JOBS={max_jobs(facts.mem_bytes, facts.cores)} for extension builds, "
              f"{matrix_concurrency(facts.mem_bytes, facts.cores)} image build(s) at a time in a matrix")
    status: Status = "warn" if facts.mem_bytes and gib < MEMORY_WARN_GIB else "ok"
    fix = ("compiling flash-attn or DeepSpeed ops takes several GiB per job: use prebuilt wheels or a bigger "
           "machine" if status == "warn" else "")
    return Check("resources", status, detail, fix, "host")


ENGINE_CHECKS: tuple[Callable[[Facts], Check], ...] = (
    check_docker, check_buildkit, check_podman, check_engine, check_disk, check_registry, check_hub, check_proxy,
    check_resources,
)
