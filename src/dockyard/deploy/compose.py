"""Deployment -> compose.yaml: one service running the serve image as its user on a read-only root,
with a tmpfs /tmp, a named volume for the Hugging Face cache, the health check the image carries, the
target's devices and /dev/shm (knowledge/deploy.toml), the stop grace period and, for a `mount:` model,
its folder. A `hub:` model fetched at start adds a one-shot service running the same image with the
download command (deploy/fetch.py) into a named volume, with the token as the compose secret hf_token
(a file, ${HF_TOKEN_FILE}); the server waits for it to complete successfully (docker-compose 1.29+)
and mounts the volume read-only.

Written for the Compose Specification (no `version:` key), as docker-compose 1.27+ and `docker compose`
read it. Compose interpolates `$NAME` and `${NAME}` in every value with the deployer's environment, so
every string is written with `$` doubled (`$$` reads back as one `$`), except the variables dockyard
means (`Variable`: `${MODEL_DIR:?...}`, `${RENDER_GID:?...}`); volumes use the long syntax, so a host
folder holding `:` or `,` stays one path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.deploy import fetch
from dockyard.deploy.binding import LOOPBACK, publish_spec
from dockyard.deploy.files import header
from dockyard.deploy.model import Deployment
from dockyard.scale.yamlout import Expression, Node, dump

FILE = "compose.yaml"
CACHE_VOLUME = "hf-cache"
MODEL_ENV = "MODEL_DIR"
MODEL_VOLUME = "model"
FETCH_SERVICE = "fetch-model"
TOKEN_SECRET = "hf_token"


class Variable(str):
    """A compose variable dockyard writes on purpose (`${NAME:?why}`); every other `$` is escaped."""


def escape(node: Any) -> Node:
    """Every string of a compose document with `$` written `$$` (compose reads it back as `$`), except a
    `Variable`. The result is marked for the YAML writer as text dockyard vouches for: GitHub's `${{`
    check does not apply to a compose file, where `$${{` is literal."""
    if isinstance(node, Variable):
        return Expression(node)
    if isinstance(node, str):
        return Expression(node.replace("$", "$$"))
    if isinstance(node, Mapping):
        return {key: escape(value) for key, value in node.items()}
    if isinstance(node, Sequence):
        return [escape(item) for item in node]
    return node  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ComposeOptions:
    bind: str = LOOPBACK  # host address the port is published on (an IP address); 0.0.0.0 for every interface
    host_port: int | None = None  # default: the serve port
    model_dir: str | None = None  # host folder of a mount: model; default: ${MODEL_DIR}, which must be set
    start_seconds: int = 600  # how long the model may take to load before the health check counts


# An empty token file (anonymous downloads) unless HF_TOKEN_FILE names one the image's user can read.
TOKEN_FILE = Variable("${HF_TOKEN_FILE:-/dev/null}")
HUB_ENDPOINT = Variable("${HF_ENDPOINT:-https://huggingface.co}")


def gid_variable(group: str) -> str:
    """`render` -> `${RENDER_GID:?...}`: a group whose GID is the host's, set by the user."""
    name = f"{group.upper()}_GID"
    why = f"set {name} to the GID of the host's {group} group: getent group {group} | cut -d: -f3"
    return Variable(f"${{{name}:?{why}}}")


def _accelerator(deployment: Deployment, service: dict[str, Any]) -> None:
    facts = deployment.devices
    if facts.devices:
        service["devices"] = [f"{device}:{device}" for device in facts.devices]
    groups = [*facts.groups, *(gid_variable(g) for g in facts.host_groups)]
    if groups:
        service["group_add"] = groups
    if facts.privileged:
        service["privileged"] = True
    if facts.host_network:
        service["network_mode"] = "host"
    if facts.reservation:
        service["deploy"] = {"resources": {"reservations": {"devices": [
            {"driver": facts.reservation, "count": deployment.accelerators, "capabilities": ["gpu"]}]}}}


def _hardened(deployment: Deployment) -> dict[str, Any]:
    return {
        "image": deployment.image,
        "user": f"{deployment.uid}:{deployment.uid}",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
    }


def _cache(deployment: Deployment) -> dict[str, Any]:
    return {"type": "volume", "source": CACHE_VOLUME, "target": deployment.cache_dir}


def fetch_service(deployment: Deployment) -> dict[str, Any]:
    """The one-shot service that downloads the pinned revision into the model volume (skipped when the
    volume holds it already), with the image's own Python and script."""
    return {
        **_hardened(deployment),
        "entrypoint": fetch.command(deployment),
        "volumes": [_cache(deployment), {"type": "volume", "source": MODEL_VOLUME,
                                         "target": deployment.model.container_path}],
        "environment": {"HF_ENDPOINT": HUB_ENDPOINT},
        "secrets": [TOKEN_SECRET],
        "restart": "no",
        "labels": deployment.labels,
    }


def compose_service(deployment: Deployment, options: ComposeOptions) -> dict[str, Any]:
    host_port = options.host_port or deployment.port
    volumes: list[dict[str, Any]] = [_cache(deployment)]
    if fetch.fetches(deployment):
        volumes.append({"type": "volume", "source": MODEL_VOLUME, "target": deployment.model.container_path,
                        "read_only": True})
    if deployment.model.kind == "mount":
        source = options.model_dir or Variable(f"${{{MODEL_ENV}:?set {MODEL_ENV} to the host folder holding the "
                                               "model}")
        volumes.append({"type": "bind", "source": source, "target": deployment.model.container_path,
                        "read_only": True})
    service: dict[str, Any] = {
        **_hardened(deployment),
        "volumes": volumes,
        "healthcheck": {
            "test": ["CMD", *deployment.health],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{options.start_seconds}s",
        },
        "stop_grace_period": f"{deployment.grace_seconds}s",
        "restart": "unless-stopped",
        "labels": deployment.labels,
    }
    if not deployment.devices.host_network:  # host networking publishes nothing: the port is the host's
        service["ports"] = [publish_spec(options.bind, host_port, deployment.port)]
    if deployment.devices.shm:
        service["shm_size"] = deployment.devices.shm.replace("Gi", "gb").replace("Mi", "mb")
    if fetch.fetches(deployment):
        service["depends_on"] = {FETCH_SERVICE: {"condition": "service_completed_successfully"}}
    _accelerator(deployment, service)
    return service


def render_compose(deployment: Deployment, options: ComposeOptions = ComposeOptions(),
                   notes: tuple[str, ...] = ()) -> dict[str, str]:
    """file name -> text."""
    services = {deployment.name: compose_service(deployment, options)}
    volumes: dict[str, Any] = {CACHE_VOLUME: {}}
    document: dict[str, Any] = {"services": services, "volumes": volumes}
    if fetch.fetches(deployment):
        services[FETCH_SERVICE] = fetch_service(deployment)
        volumes[MODEL_VOLUME] = {}
        document["secrets"] = {TOKEN_SECRET: {"file": TOKEN_FILE}}
    escaped = escape(document)
    assert isinstance(escaped, Mapping)
    return {FILE: dump(escaped, header("compose", deployment.source, deployment.image, notes))}

