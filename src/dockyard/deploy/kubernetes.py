"""Deployment -> Kubernetes manifests, one file each (`kubectl apply -f DIR`): a Deployment (its pod from
deploy/pod.py), a Service, a NetworkPolicy admitting only the serving port, and on request a
HorizontalPodAutoscaler (CPU) or a KEDA ScaledObject (in-flight requests at the gateway), a
PodDisruptionBudget, and for a model fetched at start the PersistentVolumeClaim it is fetched into.
Every object carries the namespace (when given) and app.kubernetes.io/{name,version,managed-by}."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.deploy import fetch
from dockyard.deploy import k8svalues as rules
from dockyard.deploy.files import header
from dockyard.deploy.keda import KedaOptions, scaled_object
from dockyard.deploy.model import Deployment
from dockyard.deploy.pod import MODEL_CLAIM_SUFFIX, PodOptions, pod_spec, scrape_annotations, sized
from dockyard.errors import InputError
from dockyard.knowledge.deploy import policy
from dockyard.scale.yamlout import dump

AUTOSCALERS = ("hpa", "keda")


@dataclass(frozen=True)
class KubernetesOptions:
    replicas: int = 1
    hpa_max: int | None = None  # autoscale from `replicas` to this many
    hpa_cpu: int = 70  # the HPA's target average CPU utilisation, percent of the request
    autoscale: str = "hpa"  # hpa (CPU) or keda (in-flight requests at the gateway)
    keda: KedaOptions = field(default_factory=KedaOptions)
    pdb: int | None = None  # a PodDisruptionBudget keeping this many pods available
    namespace: str | None = None
    pod: PodOptions = field(default_factory=PodOptions)

    @property
    def max_pods(self) -> int:
        return self.hpa_max if self.hpa_max is not None else self.replicas


def check_options(deployment: Deployment, options: KubernetesOptions) -> None:
    """Every option problem, before anything is written: the API's own rules (k8svalues), then how the
    options go together."""
    rules.dns1035_label(deployment.name, f"{deployment.source}: the service name (from [image].name)")
    for flag, number in (("--replicas", options.replicas), ("--hpa-max", options.hpa_max),
                         ("--hpa-cpu", options.hpa_cpu), ("--pdb", options.pdb),
                         ("--in-flight", options.keda.in_flight)):
        if number is not None:  # the API's range; what makes sense (replicas >= 1 ...) is checked below
            rules.int32(number, flag, 0)
    if options.namespace is not None:
        rules.dns1123_label(options.namespace, "--namespace")
    for key, value in deployment.labels.items():
        rules.label_key(key, "label key")
        rules.label_value(value, f"label {key}")
    if options.replicas < 1:
        raise InputError(f"--replicas {options.replicas}: must be 1 or more")
    if options.hpa_max is not None and options.hpa_max < options.replicas:
        raise InputError(f"--hpa-max {options.hpa_max} is below --replicas {options.replicas}",
                         "the autoscaler scales from --replicas up to --hpa-max: give a larger --hpa-max")
    if not 1 <= options.hpa_cpu <= 100:
        raise InputError(f"--hpa-cpu {options.hpa_cpu}: a percentage from 1 to 100")
    if options.autoscale not in AUTOSCALERS:
        raise InputError(f"--autoscale {options.autoscale}: not one of {', '.join(AUTOSCALERS)}")
    if options.autoscale == "keda" and options.hpa_max is None:
        raise InputError("--autoscale keda needs --hpa-max N (the most replicas)",
                         "e.g. --autoscale keda --hpa-max 6 --prometheus http://prometheus.monitoring:9090")
    if options.pdb is not None and not 1 <= options.pdb < options.replicas:
        raise InputError(f"--pdb {options.pdb} with --replicas {options.replicas}: a budget must leave a pod free to "
                         "move, or no node can ever be drained", "use --pdb from 1 to replicas-1 (and --replicas 2 or "
                         "more)")


def metadata(deployment: Deployment, namespace: str | None, name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name or deployment.name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = deployment.labels
    return meta


def match_labels(deployment: Deployment) -> dict[str, str]:
    return {"app.kubernetes.io/name": deployment.name}


def network_policy(deployment: Deployment, namespace: str | None, selector: dict[str, str]) -> dict[str, Any]:
    """Only the serving port reaches the pods (from anywhere: put your own `from` rules in front). Egress
    is left open: a fetch at start needs the Hub."""
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(deployment, namespace),
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                 "ingress": [{"ports": [{"port": deployment.port, "protocol": "TCP"}]}]},
    }


def model_claim(deployment: Deployment, options: KubernetesOptions) -> dict[str, Any] | None:
    """The claim a model fetched at start is written into, when no other volume was named. One pod at a time
    can use a ReadWriteOnce claim; more replicas share a ReadWriteMany one (or use --model-volume emptydir)."""
    if not fetch.fetches(deployment) or options.pod.model_volume:
        return None
    mode = "ReadWriteOnce" if options.max_pods == 1 else "ReadWriteMany"
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": metadata(deployment, options.namespace, deployment.name + MODEL_CLAIM_SUFFIX),
        "spec": {"accessModes": [mode],
                 "resources": {"requests": {"storage": sized(deployment, options.pod).model_volume}}},
    }


def behavior(start_seconds: int) -> dict[str, Any]:
    """Scale up only on load that lasts longer than a new pod takes to start (a pod arriving after a burst
    is wasted), one pod at a time; scale down slowly."""
    scaling = policy()
    return {
        "scaleUp": {"stabilizationWindowSeconds": min(start_seconds, scaling.max_window),
                    "policies": [{"type": "Pods", "value": scaling.scale_up_pods,
                                  "periodSeconds": scaling.scale_up_period}]},
        "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_window,
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": scaling.scale_up_period}]},
    }


def rolling(deployment: Deployment, options: KubernetesOptions) -> dict[str, int]:
    """One accelerator per replica, or a ReadWriteOnce model claim: an update must not need a second one at
    the same time, so it replaces pods in place; CPU deployments surge one pod instead."""
    claim = model_claim(deployment, options)
    single_writer = claim is not None and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    if deployment.devices.k8s_resource or single_writer:
        return {"maxSurge": 0, "maxUnavailable": 1}
    return {"maxSurge": 1, "maxUnavailable": 0}


def manifests(deployment: Deployment, options: KubernetesOptions) -> dict[str, dict[str, Any]]:
    """file name -> manifest."""
    check_options(deployment, options)
    match = match_labels(deployment)
    pod = replace(options.pod, spread=options.max_pods > 1, scrape=options.pod.scrape or options.autoscale == "keda")
    template: dict[str, Any] = {"labels": deployment.labels}
    if pod.scrape:
        template["annotations"] = scrape_annotations(deployment)
    out: dict[str, dict[str, Any]] = {
        "deployment.yaml": {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(deployment, options.namespace),
            "spec": {
                "replicas": options.replicas,
                "selector": {"matchLabels": match},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling(deployment, options)},
                "template": {"metadata": template, "spec": pod_spec(deployment, pod)},
            },
        },
        "service.yaml": {
            "apiVersion": "v1", "kind": "Service", "metadata": metadata(deployment, options.namespace),
            "spec": {"type": "ClusterIP", "selector": match,
                     "ports": [{"name": "http", "port": deployment.port, "targetPort": "http", "protocol": "TCP"}]},
        },
        "networkpolicy.yaml": network_policy(deployment, options.namespace, match),
    }
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name}
    if options.hpa_max is not None and options.autoscale == "hpa":
        out["hpa.yaml"] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(deployment, options.namespace),
            "spec": {
                "scaleTargetRef": target,
                "minReplicas": options.replicas, "maxReplicas": options.hpa_max,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": options.hpa_cpu}}}],
                "behavior": behavior(pod.start_seconds),
            },
        }
    if options.hpa_max is not None and options.autoscale == "keda":
        out["scaledobject.yaml"] = scaled_object(deployment, options.keda, options.namespace, options.replicas,
                                                 options.hpa_max, behavior(pod.start_seconds),
                                                 metadata(deployment, options.namespace))
    if options.pdb is not None:
        out["pdb.yaml"] = {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": metadata(deployment, options.namespace),
            "spec": {"minAvailable": options.pdb, "selector": {"matchLabels": match}},
        }
    claim = model_claim(deployment, options)
    if claim is not None:
        out["pvc.yaml"] = claim
    return out


def render_kubernetes(deployment: Deployment, options: KubernetesOptions = KubernetesOptions(),
                      notes: tuple[str, ...] = ()) -> dict[str, str]:
    """file name -> text."""
    lines = header("kubernetes", deployment.source, deployment.image, notes)
    return {name: dump(manifest, lines) for name, manifest in manifests(deployment, options).items()}
