"""Deployment -> Kubernetes manifests: a Deployment and a Service, and on request a
HorizontalPodAutoscaler and a PodDisruptionBudget, one file each (`kubectl apply -f DIR`).

The pod runs the image's user on a read-only root (runAsNonRoot, every capability dropped, no
privilege escalation, seccomp RuntimeDefault) with emptyDir volumes for /tmp and the Hugging Face
cache; startup, readiness and liveness probes ask /health; the target's extended resource and node
selectors come from knowledge/deploy.toml; a `mount:` model comes from a hostPath or a PVC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.deploy import k8svalues as rules
from dockyard.deploy.files import header
from dockyard.deploy.model import Deployment
from dockyard.errors import InputError
from dockyard.scale.yamlout import dump

PROBE_PERIOD = 5


@dataclass(frozen=True)
class KubernetesOptions:
    replicas: int = 1
    hpa_max: int | None = None  # a HorizontalPodAutoscaler from `replicas` to this many
    hpa_cpu: int = 70  # target average CPU utilisation, percent of the request
    pdb: int | None = None  # a PodDisruptionBudget keeping this many pods available
    model_volume: str | None = None  # "hostpath:/DIR" or "pvc:NAME" for a mount: model
    node_selector: tuple[tuple[str, str], ...] = ()  # added to (and overriding) the target's
    cpu: str = "1"
    memory: str = "4Gi"
    start_seconds: int = 600  # how long the model may take to load before the pod is restarted


def check_options(deployment: Deployment, options: KubernetesOptions) -> None:
    """Every option problem, before anything is written: the API's own rules (k8svalues), then how the
    options go together."""
    rules.dns1035_label(deployment.name, f"{deployment.source}: the service name (from [image].name)")
    for flag, number in (("--replicas", options.replicas), ("--hpa-max", options.hpa_max),
                         ("--hpa-cpu", options.hpa_cpu), ("--pdb", options.pdb),
                         ("--start-timeout", options.start_seconds), ("--accelerators", deployment.accelerators)):
        if number is not None:  # the API's range; what makes sense (replicas >= 1 ...) is checked below
            rules.int32(number, flag, 0)
    rules.quantity(options.cpu, "--cpu")
    rules.quantity(options.memory, "--memory")
    for key, value in (*deployment.devices.node_selector, *options.node_selector):
        rules.label_key(key, "--node-selector key")
        rules.label_value(value, f"--node-selector {key}=")
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
    if options.pdb is not None and not 1 <= options.pdb < options.replicas:
        raise InputError(f"--pdb {options.pdb} with --replicas {options.replicas}: a budget must leave a pod free to "
                         "move, or no node can ever be drained", "use --pdb from 1 to replicas-1 (and --replicas 2 or "
                         "more)")
    if deployment.model.kind == "mount":
        if not options.model_volume:
            raise InputError(f"{deployment.source}: [serve].model = \"{deployment.model.spelled()}\" is mounted at run "
                             "time, and no volume was named", "add --model-volume pvc:CLAIM (a PersistentVolumeClaim "
                             "holding the model) or --model-volume hostpath:/DIR")
        volume_source(options.model_volume)
    elif options.model_volume:
        raise InputError(f"--model-volume {options.model_volume}: the model is baked into the image "
                         f"({deployment.model.spelled()})", "leave --model-volume out, or use model = "
                         "\"mount:/models/NAME\" in [serve]")


def volume_source(spelled: str) -> dict[str, Any]:
    kind, _, ref = spelled.partition(":")
    if kind == "pvc" and ref:
        claim: dict[str, Any] = {"claimName": rules.dns1123_subdomain(ref, "--model-volume pvc:"), "readOnly": True}
        return {"persistentVolumeClaim": claim}
    if kind == "hostpath" and ref.startswith("/") and ref.isprintable() and ".." not in ref.split("/"):
        return {"hostPath": {"path": ref, "type": "Directory"}}
    raise InputError(f"--model-volume {spelled!r}: not pvc:CLAIM or hostpath:/ABSOLUTE/DIR",
                     "e.g. --model-volume pvc:models or --model-volume hostpath:/srv/models/tiny")


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 4,
            "failureThreshold": failures}


def _container(deployment: Deployment, options: KubernetesOptions) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"},
                                    {"name": "hf-cache", "mountPath": deployment.cache_dir}]
    if deployment.model.kind == "mount":
        mounts.append({"name": "model", "mountPath": deployment.model.container_path, "readOnly": True})
    limits: dict[str, Any] = {"memory": options.memory}
    if deployment.devices.k8s_resource:
        limits[deployment.devices.k8s_resource] = deployment.accelerators
    return {
        "name": "server",
        "image": deployment.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": deployment.port, "protocol": "TCP"}],
        "startupProbe": _probe(deployment.health_path, PROBE_PERIOD,
                               max(1, -(-options.start_seconds // PROBE_PERIOD))),
        "readinessProbe": _probe(deployment.health_path, 10, 3),
        "livenessProbe": _probe(deployment.health_path, 20, 3),
        "resources": {"requests": {"cpu": options.cpu, "memory": options.memory}, "limits": limits},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": deployment.uid,
            "runAsGroup": deployment.uid,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }


def _pod(deployment: Deployment, options: KubernetesOptions) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}, {"name": "hf-cache", "emptyDir": {}}]
    if deployment.model.kind == "mount" and options.model_volume:
        volumes.append({"name": "model", **volume_source(options.model_volume)})
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": deployment.grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": deployment.uid,
            "runAsGroup": deployment.uid,
            "fsGroup": deployment.uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(deployment, options)],
        "volumes": volumes,
    }
    selector = dict(deployment.devices.node_selector) | dict(options.node_selector)
    if selector:
        pod["nodeSelector"] = dict(sorted(selector.items()))
    return pod


def _metadata(deployment: Deployment) -> dict[str, Any]:
    return {"name": deployment.name, "labels": deployment.labels}


def manifests(deployment: Deployment, options: KubernetesOptions) -> dict[str, dict[str, Any]]:
    """file name -> manifest."""
    check_options(deployment, options)
    match = {"app.kubernetes.io/name": deployment.name}
    # One accelerator per replica: a rolling update must not need a spare one, so it replaces pods in place.
    surge = ({"maxSurge": 0, "maxUnavailable": 1} if deployment.devices.k8s_resource
             else {"maxSurge": 1, "maxUnavailable": 0})
    out: dict[str, dict[str, Any]] = {
        "deployment.yaml": {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(deployment),
            "spec": {
                "replicas": options.replicas,
                "selector": {"matchLabels": match},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": surge},
                "template": {"metadata": {"labels": deployment.labels}, "spec": _pod(deployment, options)},
            },
        },
        "service.yaml": {
            "apiVersion": "v1", "kind": "Service", "metadata": _metadata(deployment),
            "spec": {"type": "ClusterIP", "selector": match,
                     "ports": [{"name": "http", "port": deployment.port, "targetPort": "http", "protocol": "TCP"}]},
        },
    }
    if options.hpa_max is not None:
        out["hpa.yaml"] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _metadata(deployment),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name},
                "minReplicas": options.replicas, "maxReplicas": options.hpa_max,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": options.hpa_cpu}}}],
            },
        }
    if options.pdb is not None:
        out["pdb.yaml"] = {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _metadata(deployment),
            "spec": {"minAvailable": options.pdb, "selector": {"matchLabels": match}},
        }
    return out


def render_kubernetes(deployment: Deployment, options: KubernetesOptions = KubernetesOptions()) -> dict[str, str]:
    """file name -> text."""
    lines = header("kubernetes", deployment.source, deployment.image)
    return {name: dump(manifest, lines) for name, manifest in manifests(deployment, options).items()}
