"""Deployment facts (knowledge/deploy.toml): per target, what a container needs from its host to reach the
accelerator and what Kubernetes schedules it on (resource, node selectors, tolerations, RuntimeClass,
/dev/shm); for every target, how a pod is sized, stopped, spread and scaled, and how KServe names things.
Rows, not branches: dockyard.deploy reads these."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import InputError
from dockyard.knowledge.folder import knowledge_dir, read


@dataclass(frozen=True)
class Toleration:
    key: str
    operator: str
    effect: str

    def manifest(self) -> dict[str, str]:
        return {"key": self.key, "operator": self.operator, "effect": self.effect}


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
    tolerations: tuple[Toleration, ...] = ()
    runtime_class: str = ""  # a RuntimeClass the pods name by default ("" none)
    shm: str = ""  # size of a memory-backed /dev/shm, "" for the engine's default
    runtime_mib: int = 512  # host memory of the runtime with no model loaded

    @property
    def accelerated(self) -> bool:
        return bool(self.reservation or self.devices or self.k8s_resource)


@dataclass(frozen=True)
class Sizing:
    """[resources], [dtype_bytes], [quantization_bytes]: how a serve pod is sized."""

    headroom: float
    unknown_memory: str
    cpu: str
    tmp: str
    cache: str
    model_volume_headroom: float
    model_volume_extra_gib: int
    unknown_model_volume: str
    weight_files: tuple[str, ...]
    dtype_bytes: dict[str, float]
    quantization_bytes: dict[str, float]


@dataclass(frozen=True)
class Policy:
    """[shutdown], [spread], [autoscale], [kserve]: the same for every target."""

    prestop_seconds: int
    spread_key: str
    spread_skew: int
    spread_when: str
    scale_down_window: int
    max_window: int
    scale_up_pods: int
    scale_up_period: int
    keda_query: str
    keda_in_flight: int
    metrics_path: str
    kserve_api_version: str
    kserve_mode: str
    kserve_container: str


def _data() -> dict[str, Any]:
    return _data_at(knowledge_dir())


@functools.cache
def _data_at(folder: Path) -> dict[str, Any]:
    return read("deploy.toml", folder)


def _table() -> dict[str, DeviceFacts]:
    return _table_at(knowledge_dir())


@functools.cache
def _table_at(folder: Path) -> dict[str, DeviceFacts]:
    data = _data_at(folder)
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
            tolerations=tuple(Toleration(t["key"], t["operator"], t["effect"]) for t in row["tolerations"]),
            runtime_class=row["runtime_class"],
            shm=row["shm"],
            runtime_mib=int(row["runtime_mib"]),
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


def sizing() -> Sizing:
    data = _data()
    row = data["resources"]
    return Sizing(
        headroom=float(row["headroom"]), unknown_memory=row["unknown_memory"],
        cpu=row["cpu"], tmp=row["tmp"], cache=row["cache"],
        model_volume_headroom=float(row["model_volume_headroom"]),
        model_volume_extra_gib=int(row["model_volume_extra_gib"]), unknown_model_volume=row["unknown_model_volume"],
        weight_files=tuple(row["weight_files"]),
        dtype_bytes={k: float(v) for k, v in data["dtype_bytes"].items()},
        quantization_bytes={k: float(v) for k, v in data["quantization_bytes"].items()},
    )


def policy() -> Policy:
    data = _data()
    shutdown, spread, scale, kserve = data["shutdown"], data["spread"], data["autoscale"], data["kserve"]
    return Policy(
        prestop_seconds=int(shutdown["prestop_seconds"]),
        spread_key=spread["topology_key"], spread_skew=int(spread["max_skew"]),
        spread_when=spread["when_unsatisfiable"],
        scale_down_window=int(scale["scale_down_window"]), max_window=int(scale["max_window"]),
        scale_up_pods=int(scale["scale_up_pods"]), scale_up_period=int(scale["scale_up_period"]),
        keda_query=scale["keda_query"], keda_in_flight=int(scale["keda_in_flight"]),
        metrics_path=scale["metrics_path"],
        kserve_api_version=kserve["api_version"], kserve_mode=kserve["deployment_mode"],
        kserve_container=kserve["container"],
    )


def section_sources(section: str) -> tuple[str, ...]:
    """The source texts of a general section ([resources], [shutdown], ...)."""
    data = _data()
    return tuple(data["sources"][key] for key in data[section]["sources"])
