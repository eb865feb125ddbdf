"""The pod every Kubernetes-family output runs (a Deployment's template, KServe's predictor): the serve
container as the image's user on a read-only root (runAsNonRoot, no capabilities, no privilege
escalation, seccomp RuntimeDefault, no service account token), startup/readiness/liveness probes, a
preStop delay and a grace period covering the longest stream, requests and limits sized from the model,
OMP_NUM_THREADS following the CPU request, bounded emptyDirs for /tmp and the cache, a memory-backed
/dev/shm and the target's tolerations, node selectors and RuntimeClass (knowledge/deploy.toml), replicas
spread over nodes, and for a model fetched at start an initContainer that fills the model volume."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard.deploy import fetch
from dockyard.deploy import k8svalues as rules
from dockyard.deploy.model import Deployment
from dockyard.deploy.resources import PodResources, pod_resources
from dockyard.errors import InputError
from dockyard.knowledge.deploy import policy, sizing

PROBE_PERIOD = 5
HTTP_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
MODEL_CLAIM_SUFFIX = "-model"  # the PersistentVolumeClaim written for a model fetched at start


@dataclass(frozen=True)
class PodOptions:
    # mount: hostpath:/DIR | pvc:CLAIM; fetched at start: also emptydir (None: a new claim, pvc.yaml)
    model_volume: str | None = None
    node_selector: tuple[tuple[str, str], ...] = ()  # added to (and overriding) the target's
    resources: PodResources | None = None  # None: the table's defaults (the model's size unknown)
    start_seconds: int = 600  # how long the model may take to load before the pod is restarted
    spread: bool = False  # more than one replica: spread them over nodes
    pull_secret: str | None = None
    runtime_class: str | None = None  # overrides the target's
    hf_token_secret: str | None = None  # NAME or NAME:KEY of a Secret holding the token for a fetch at start
    hf_endpoint: str | None = None  # a Hub mirror for the fetch step
    scrape: bool = False  # Prometheus annotations for the gateway's /metrics


SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")  # a Secret's data key (the API's ConfigMap key rule)


def volume_source(spelled: str, flag: str = "--model-volume", read_only: bool = True) -> dict[str, Any]:
    kind, _, ref = spelled.partition(":")
    if kind == "pvc" and ref:
        claim: dict[str, Any] = {"claimName": rules.dns1123_subdomain(ref, f"{flag} pvc:"),
                                 **({"readOnly": True} if read_only else {})}
        return {"persistentVolumeClaim": claim}
    if kind == "hostpath" and ref.startswith("/") and ref.isprintable() and ".." not in ref.split("/"):
        return {"hostPath": {"path": ref, "type": "Directory" if read_only else "DirectoryOrCreate"}}
    raise InputError(f"{flag} {spelled!r}: not pvc:CLAIM or hostpath:/ABSOLUTE/DIR",
                     "e.g. --model-volume pvc:models or --model-volume hostpath:/srv/models/tiny")


def check_pod_options(deployment: Deployment, options: PodOptions) -> None:
    """The API's rules for every value the pod options bring (k8svalues), and the model volume's."""
    resources = sized(deployment, options)
    rules.quantity(resources.cpu, "--cpu")
    rules.quantity(resources.memory, "--memory")
    rules.int32(options.start_seconds, "--start-timeout", 1)
    rules.int32(deployment.accelerators, "--accelerators", 1)
    for key, value in (*deployment.devices.node_selector, *options.node_selector):
        rules.label_key(key, "--node-selector key")
        rules.label_value(value, f"--node-selector {key}=")
    for flag, name in (("--pull-secret", options.pull_secret), ("--runtime-class", options.runtime_class)):
        if name is not None:
            rules.dns1123_subdomain(name, flag)
    if options.hf_token_secret:
        secret, _, key = options.hf_token_secret.partition(":")
        rules.dns1123_subdomain(secret, "--hf-token-secret")
        if key and not SECRET_KEY.match(key):
            raise InputError(f"--hf-token-secret {options.hf_token_secret!r}: {key!r} is not a Secret key",
                             "letters, digits, '-', '_' and '.', e.g. --hf-token-secret hf-token:token")
    if options.hf_endpoint is not None and not HTTP_URL.match(options.hf_endpoint):
        raise InputError(f"--hf-endpoint {options.hf_endpoint!r}: not an http(s) URL of a server",
                         "e.g. --hf-endpoint https://hf-mirror.example.com (no query string, no credentials)")
    check_model_volume(deployment, options)


def check_model_volume(deployment: Deployment, options: PodOptions) -> None:
    model = deployment.model
    if model.kind == "mount":
        if not options.model_volume:
            raise InputError(f"{deployment.source}: [serve].model = \"{model.spelled()}\" is mounted at run "
                             "time, and no volume was named", "add --model-volume pvc:CLAIM (a PersistentVolumeClaim "
                             "holding the model) or --model-volume hostpath:/DIR")
        volume_source(options.model_volume)
    elif fetch.fetches(deployment):
        if options.model_volume and options.model_volume != "emptydir":
            volume_source(options.model_volume, read_only=False)
    elif options.model_volume:
        raise InputError(f"--model-volume {options.model_volume}: the model is baked into the image "
                         f"({model.spelled()})", "leave --model-volume out, or use model = \"mount:/models/NAME\" "
                         "(or fetch = \"start\" for a hub: model) in [serve]")
    if options.hf_token_secret and not fetch.fetches(deployment):
        raise InputError(f"--hf-token-secret {options.hf_token_secret}: nothing is downloaded at start "
                         f"({model.spelled()})", 'the token is for [serve] fetch = "start"; a model baked at build '
                         "time takes it as the build secret hf_token")


def model_volume(deployment: Deployment, options: PodOptions) -> dict[str, Any] | None:
    """The pod volume holding the model (None when the image carries it)."""
    if deployment.model.kind == "mount" and options.model_volume:
        return {"name": fetch.VOLUME, **volume_source(options.model_volume)}
    if not fetch.fetches(deployment):
        return None
    if options.model_volume == "emptydir":
        return {"name": fetch.VOLUME, "emptyDir": {"sizeLimit": sized(deployment, options).model_volume}}
    if options.model_volume:
        return {"name": fetch.VOLUME, **volume_source(options.model_volume, read_only=False)}
    return {"name": fetch.VOLUME, "persistentVolumeClaim": {"claimName": deployment.name + MODEL_CLAIM_SUFFIX}}


def _probe(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 4,
            "failureThreshold": failures}


def _security(deployment: Deployment) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": deployment.uid,
        "runAsGroup": deployment.uid,
        "capabilities": {"drop": ["ALL"]},
    }


def _scratch_mounts(deployment: Deployment) -> list[dict[str, Any]]:
    return [{"name": "tmp", "mountPath": "/tmp"}, {"name": "hf-cache", "mountPath": deployment.cache_dir}]


def sized(deployment: Deployment, options: PodOptions) -> PodResources:
    if options.resources is not None:
        return options.resources
    return pod_resources(None, deployment.dtype, deployment.quantization, deployment.devices.shm, sizing(),
                         runtime_mib=deployment.devices.runtime_mib)


def container(deployment: Deployment, options: PodOptions, name: str, port_name: str) -> dict[str, Any]:
    resources = sized(deployment, options)
    mounts = _scratch_mounts(deployment)
    if resources.shm:
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
    if deployment.model.kind == "mount" or fetch.fetches(deployment):
        mounts.append({"name": fetch.VOLUME, "mountPath": deployment.model.container_path, "readOnly": True})
    limits: dict[str, Any] = {"memory": resources.memory}
    if deployment.devices.k8s_resource:
        limits[deployment.devices.k8s_resource] = deployment.accelerators
    threads = {"resourceFieldRef": {"containerName": name, "resource": "requests.cpu", "divisor": "1"}}
    return {
        "name": name,
        "image": deployment.image,
        "imagePullPolicy": deployment.pull_policy,
        "ports": [{"name": port_name, "containerPort": deployment.port, "protocol": "TCP"}],
        # torch starts one thread per visible core; the request, rounded up, is what the pod may use
        "env": [{"name": "OMP_NUM_THREADS", "valueFrom": threads}],
        "startupProbe": _probe(deployment.health_path, port_name, PROBE_PERIOD,
                               max(1, -(-options.start_seconds // PROBE_PERIOD))),
        "readinessProbe": _probe(deployment.ready_path, port_name, 10, 3),
        "livenessProbe": _probe(deployment.health_path, port_name, 20, 3),
        # keep serving while the endpoint is removed from Services and load balancers, then SIGTERM
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(policy().prestop_seconds)]}}},
        "resources": {"requests": {"cpu": resources.cpu, "memory": resources.memory,
                                   "ephemeral-storage": resources.ephemeral}, "limits": limits},
        "securityContext": _security(deployment),
        "volumeMounts": mounts,
    }


def fetch_container(deployment: Deployment, options: PodOptions) -> dict[str, Any]:
    """The initContainer that downloads the pinned revision into the model volume (skipped when present)."""
    mounts = [*_scratch_mounts(deployment), {"name": fetch.VOLUME, "mountPath": deployment.model.container_path}]
    if options.hf_token_secret:
        mounts.append({"name": "hf-token", "mountPath": fetch.TOKEN_DIR, "readOnly": True})
    env = [{"name": "HF_ENDPOINT", "value": options.hf_endpoint}] if options.hf_endpoint else []
    return {
        "name": fetch.CONTAINER,
        "image": deployment.image,
        "imagePullPolicy": deployment.pull_policy,
        "command": fetch.command(deployment),
        **({"env": env} if env else {}),
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        "securityContext": _security(deployment),
        "volumeMounts": mounts,
    }


def spread(match: dict[str, str]) -> list[dict[str, Any]]:
    rules = policy()
    return [{"maxSkew": rules.spread_skew, "topologyKey": rules.spread_key,
             "whenUnsatisfiable": rules.spread_when, "labelSelector": {"matchLabels": match}}]


def volumes(deployment: Deployment, options: PodOptions) -> list[dict[str, Any]]:
    resources = sized(deployment, options)
    out: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": resources.tmp}},
                                 {"name": "hf-cache", "emptyDir": {"sizeLimit": resources.cache}}]
    if resources.shm:
        out.append({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": resources.shm}})
    model = model_volume(deployment, options)
    if model is not None:
        out.append(model)
    if options.hf_token_secret:
        secret, _, key = options.hf_token_secret.partition(":")
        out.append({"name": "hf-token", "secret": {"secretName": secret, "optional": True, "defaultMode": 0o440,
                                                   "items": [{"key": key or "token", "path": fetch.TOKEN_FILE}]}})
    return out


def pod_spec(deployment: Deployment, options: PodOptions, name: str = "server", port_name: str = "http") \
        -> dict[str, Any]:
    """The PodSpec (a Deployment's template.spec; KServe's predictor inlines the same fields)."""
    check_pod_options(deployment, options)
    facts = deployment.devices
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": deployment.grace_seconds + policy().prestop_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": deployment.uid,
            "runAsGroup": deployment.uid,
            "fsGroup": deployment.uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if fetch.fetches(deployment):
        pod["initContainers"] = [fetch_container(deployment, options)]
    pod["containers"] = [container(deployment, options, name, port_name)]
    pod["volumes"] = volumes(deployment, options)
    selector = dict(facts.node_selector) | dict(options.node_selector)
    if selector:
        pod["nodeSelector"] = dict(sorted(selector.items()))
    if facts.tolerations:
        pod["tolerations"] = [t.manifest() for t in facts.tolerations]
    runtime_class = options.runtime_class if options.runtime_class is not None else facts.runtime_class
    if runtime_class:
        pod["runtimeClassName"] = runtime_class
    if options.spread:
        pod["topologySpreadConstraints"] = spread({"app.kubernetes.io/name": deployment.name})
    if options.pull_secret:
        pod["imagePullSecrets"] = [{"name": options.pull_secret}]
    return pod


def scrape_annotations(deployment: Deployment) -> dict[str, str]:
    """The prometheus.io/* convention (Prometheus' kubernetes-pods example job, most charts) for /metrics."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(deployment.port),
            "prometheus.io/path": policy().metrics_path}
