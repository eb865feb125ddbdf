"""A KEDA ScaledObject that scales a serve Deployment on in-flight requests instead of CPU: the serve
image's gateway counts them on /metrics, Prometheus scrapes that, and KEDA asks Prometheus (trigger type
prometheus; its query is one row of knowledge/deploy.toml [autoscale] keda_query). With metricType
AverageValue the autoscaler keeps about `in_flight` requests per replica."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard.deploy.model import Deployment
from dockyard.errors import InputError
from dockyard.knowledge.deploy import policy

API_VERSION = "keda.sh/v1alpha1"
PROMETHEUS_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


@dataclass(frozen=True)
class KedaOptions:
    prometheus: str = ""  # the Prometheus server KEDA asks, e.g. http://prometheus-operated.monitoring:9090
    in_flight: int | None = None  # requests per replica the autoscaler aims at (default: the table's)


def check_prometheus(url: str) -> str:
    if not url:
        raise InputError("--autoscale keda needs --prometheus URL (the Prometheus server KEDA queries)",
                         "e.g. --prometheus http://prometheus-operated.monitoring.svc:9090")
    if not PROMETHEUS_URL.match(url):
        raise InputError(f"--prometheus {url!r}: not an http(s) URL of a server", "e.g. --prometheus "
                         "http://prometheus-operated.monitoring.svc:9090 (no query string, no credentials)")
    return url


def query(deployment: Deployment, namespace: str | None) -> str:
    """The table's query with this deployment's pods: pods of a Deployment are named NAME-<hash>-<id>."""
    selector = ([f'namespace="{namespace}"'] if namespace else []) + [f'pod=~"{deployment.name}-.*"']
    return policy().keda_query.replace("POD_SELECTOR", ",".join(selector))


def target(options: KedaOptions) -> int:
    value = options.in_flight if options.in_flight is not None else policy().keda_in_flight
    if value < 1:
        raise InputError(f"--in-flight {value}: must be 1 or more", "the requests one replica should have running, "
                         "e.g. --in-flight 4")
    return value


def scaled_object(deployment: Deployment, options: KedaOptions, namespace: str | None, minimum: int, maximum: int,
                  behavior: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION, "kind": "ScaledObject", "metadata": metadata,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name},
            "minReplicaCount": minimum,
            "maxReplicaCount": maximum,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": [{
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {"serverAddress": check_prometheus(options.prometheus),
                             "query": query(deployment, namespace), "threshold": str(target(options))},
            }],
        },
    }
