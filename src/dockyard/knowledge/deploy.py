"""Deployment facts per target (knowledge/deploy.toml): what a container needs from its host to reach
the accelerator, and what Kubernetes schedules it on. Rows, not branches: dockyard.deploy reads these."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InputError
from dockyard.knowledge.folder import knowledge_dir, read


@dataclass(frozen=True)
class DeviceFacts:
    target: str
    devices: tuple[str, ...]  # host device nodes passed through
    groups: tuple[str, ...]  # supplementary groups by name (present in the image)
    host_groups: tuple[str, ...]  # groups whose GID is the host's (render)
    reservation: str  # compose device reservation driver ("nvidia") or ""
    privileged: bool
    host_network: bool
    k8s_resource: str  # extended resource per replica, "" for none
    node_selector: tuple[tuple[str, str], ...]
    sources: tuple[str, ...]  # the source texts, not their keys

    @property
    def accelerated(self) -> bool:
        return bool(self.reservation or self.devices or self.k8s_resource)


def _table() -> dict[str, DeviceFacts]:
    return _table_at(knowledge_dir())


@functools.cache
def _table_at(folder: Path) -> dict[str, DeviceFacts]:
    data = read("deploy.toml", folder)
    sources: dict[str, str] = data["sources"]
    table = {}
    for name, row in data["target"].items():
        table[name] = DeviceFacts(
            target=name,
            devices=tuple(row["devices"]),
            groups=tuple(row["groups"]),
            host_groups=tuple(row["host_groups"]),
            reservation=row["reservation"],
            privileged=bool(row.get("privileged", False)),
            host_network=bool(row.get("host_network", False)),
            k8s_resource=row["k8s_resource"],
            node_selector=tuple(sorted(row["node_selector"].items())),
            sources=tuple(sources[key] for key in row["sources"]),
        )
    return table


def deploy_targets() -> tuple[str, ...]:
    return tuple(sorted(_table()))


def device_facts(target: str) -> DeviceFacts:
    """The row for a target; a target the table lacks is a gap in the knowledge base, said loudly."""
    table = _table()
    if target not in table:
        raise InputError(f"no deployment facts for target {target!r} in knowledge/deploy.toml",
                         f"add a [target.{target}] row (devices, k8s_resource, sources); known: "
                         f"{', '.join(sorted(table))}")
    return table[target]
