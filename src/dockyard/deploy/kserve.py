"""Deployment -> a KServe InferenceService running the serve image as a custom predictor (its container
named as KServe expects), in KServe's Standard (raw Deployment) mode: the same pod as the Kubernetes
output (deploy/pod.py: probes, resources from the model, the target's accelerators, tolerations and node
selectors, preStop and grace, a model fetched at start by an initContainer), min/max replicas and the
scale metric and target: CPU through KServe's HPA, or in-flight requests at the gateway through KEDA
(`--autoscale keda`). A NetworkPolicy admits only the serving port, and for a model fetched at start a
PersistentVolumeClaim holds it.

Facts from kserve/kserve v0.20.0 (knowledge/deploy.toml [kserve]): annotations
serving.kserve.io/deploymentMode and serving.kserve.io/autoscalerClass; a Standard predictor's pods are
named NAME-predictor-<hash>; its HPA reconciler ignores autoScaling.behavior, its KEDA reconciler keeps
the stabilisation windows and passes an External metric's target value as the trigger's threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dockyard.deploy.files import header
from dockyard.deploy.keda import check_prometheus, target
from dockyard.deploy.kubernetes import (
    KubernetesOptions,
    behavior,
    check_options,
    match_labels,
    metadata,
    model_claim,
    network_policy,
    rolling,
)
from dockyard.deploy.model import Deployment
from dockyard.deploy.pod import pod_spec, scrape_annotations
from dockyard.knowledge.deploy import policy
from dockyard.scale.yamlout import dump

PORT_NAME = "http1"  # KServe's name for an HTTP/1 port


def _query(deployment: Deployment, namespace: str | None) -> str:
    selector = ([f'namespace="{namespace}"'] if namespace else []) + [f'pod=~"{deployment.name}-predictor-.*"']
    return policy().keda_query.replace("POD_SELECTOR", ",".join(selector))


def _autoscaling(deployment: Deployment, options: KubernetesOptions, start_seconds: int) -> dict[str, Any]:
    if options.autoscale == "keda":
        windows = {direction: {"stabilizationWindowSeconds": rules["stabilizationWindowSeconds"]}
                   for direction, rules in behavior(start_seconds).items()}
        return {"autoScaling": {
            "metrics": [{"type": "External", "external": {
                "metric": {"backend": "prometheus", "serverAddress": check_prometheus(options.keda.prometheus),
                           "query": _query(deployment, options.namespace)},
                "target": {"type": "Value", "value": str(target(options.keda))}}}],
            "behavior": windows}}
    return {"autoScaling": {"metrics": [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": options.hpa_cpu}}}]}}


def inference_service(deployment: Deployment, options: KubernetesOptions) -> dict[str, Any]:
    check_options(deployment, options)
    rules = policy()
    pod = replace(options.pod, spread=options.max_pods > 1, scrape=options.pod.scrape or options.autoscale == "keda")
    predictor: dict[str, Any] = {
        "minReplicas": options.replicas,
        "maxReplicas": options.max_pods,
        **_autoscaling(deployment, options, pod.start_seconds),
        "deploymentStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling(deployment, options)},
        "labels": deployment.labels,
        **({"annotations": scrape_annotations(deployment)} if pod.scrape else {}),
        **pod_spec(deployment, pod, rules.kserve_container, PORT_NAME),
    }
    meta = metadata(deployment, options.namespace)
    meta["annotations"] = {"serving.kserve.io/deploymentMode": rules.kserve_mode,
                           "serving.kserve.io/autoscalerClass": options.autoscale}
    return {"apiVersion": rules.kserve_api_version, "kind": "InferenceService", "metadata": meta,
            "spec": {"predictor": predictor}}


def manifests(deployment: Deployment, options: KubernetesOptions) -> dict[str, dict[str, Any]]:
    out = {"inferenceservice.yaml": inference_service(deployment, options),
           "networkpolicy.yaml": network_policy(deployment, options.namespace, match_labels(deployment))}
    claim = model_claim(deployment, options)
    if claim is not None:
        out["pvc.yaml"] = claim
    return out


def render_kserve(deployment: Deployment, options: KubernetesOptions | None = None,
                  notes: tuple[str, ...] = ()) -> dict[str, str]:
    lines = header("kserve", deployment.source, deployment.image, notes)
    documents = manifests(deployment, options or KubernetesOptions())
    return {name: dump(manifest, lines) for name, manifest in documents.items()}
