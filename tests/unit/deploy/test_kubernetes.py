"""Kubernetes manifests for every target: resources, node selectors, tolerations and /dev/shm from
knowledge/deploy.toml, the restricted securityContext, probes, preStop and grace, volumes with size
limits, HPA behaviour, NetworkPolicy, namespace and version label, pull policy by digest; and every
output passes kubernetes-validate --strict (offline schemas)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.deploy.files import write_all
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.deploy.pod import PodOptions
from dockyard.deploy.resources import pod_resources
from dockyard.deploy.weights import ModelSize
from dockyard.errors import InputError
from dockyard.knowledge.deploy import sizing

from .conftest import MakeDeployment
from .schemas import validate_files, validator

RESOURCES = {
    "cpu": {},
    "intel-cpu": {},
    "cuda": {"nvidia.com/gpu": 1},
    "rocm": {"amd.com/gpu": 1},
    "xpu": {"gpu.intel.com/i915": 1},
    "tpu": {"google.com/tpu": 1},
}
TPU_NODES = {"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice", "cloud.google.com/gke-tpu-topology": "1x1"}
DIGEST = "sha256:" + "ab" * 32


def documents(deployment: Any, options: KubernetesOptions | None = None) -> dict[str, dict[str, Any]]:
    rendered = render_kubernetes(deployment, options or KubernetesOptions())
    return {name: yaml.safe_load(text) for name, text in rendered.items()}


def pod(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["deployment.yaml"]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("target", sorted(RESOURCES))
def test_resources_and_scheduling_per_target(make_deployment: MakeDeployment, target: str) -> None:
    spec = pod(documents(make_deployment(target)))
    limits = spec["containers"][0]["resources"]["limits"]
    assert {k: v for k, v in limits.items() if k != "memory"} == RESOURCES[target]
    assert spec.get("nodeSelector", {}) == (TPU_NODES if target == "tpu" else {})
    resource = next(iter(RESOURCES[target]), None)
    assert spec.get("tolerations", []) == ([{"key": resource, "operator": "Exists", "effect": "NoSchedule"}]
                                           if resource else []), "GPU nodes are tainted with their resource's name"
    shm = [v for v in spec["volumes"] if v["name"] == "shm"]
    assert shm == ([{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}]
                   if target in ("cuda", "rocm", "xpu") else [])
    assert "runtimeClassName" not in spec, "no RuntimeClass unless asked: it exists only where a cluster made one"


def test_pod_is_restricted_probed_and_drains(make_deployment: MakeDeployment) -> None:
    docs = documents(make_deployment("cuda", grace_seconds=40))
    assert sorted(docs) == ["deployment.yaml", "networkpolicy.yaml", "service.yaml"]
    spec = pod(docs)
    assert spec["terminationGracePeriodSeconds"] == 45, "grace covers the preStop delay and the longest stream"
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 1000,
        "runAsGroup": 1000, "capabilities": {"drop": ["ALL"]}}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] == 600
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert container["env"] == [{"name": "OMP_NUM_THREADS", "valueFrom": {"resourceFieldRef": {
        "containerName": "server", "resource": "requests.cpu", "divisor": "1"}}}], "threads follow the CPU request"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/home/dockyard/.cache/huggingface",
                                                                    "/dev/shm"}
    assert all("sizeLimit" in v["emptyDir"] for v in spec["volumes"]), "every emptyDir is bounded"
    requests = container["resources"]["requests"]
    assert requests["ephemeral-storage"] == "3Gi", "the /tmp and cache limits"
    strategy = docs["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}, "one GPU per replica: no spare needed to roll"
    service = docs["service.yaml"]["spec"]
    assert service["selector"] == {"app.kubernetes.io/name": "tiny-chat"} and service["ports"][0]["port"] == 8000


def test_labels_namespace_and_network_policy(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cpu")
    docs = documents(deployment, KubernetesOptions(namespace="models"))
    for document in docs.values():
        assert document["metadata"]["namespace"] == "models"
        assert document["metadata"]["labels"]["app.kubernetes.io/version"] == deployment.version
    assert len(deployment.version) == 12
    template = docs["deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    assert template["app.kubernetes.io/version"] == deployment.version
    assert "app.kubernetes.io/version" not in docs["deployment.yaml"]["spec"]["selector"]["matchLabels"], \
        "a new version must not change the immutable selector"
    assert docs["networkpolicy.yaml"]["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "tiny-chat"}}, "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 8000, "protocol": "TCP"}]}]}


@pytest.mark.parametrize(("image", "policy"), [
    ("registry.example/tiny-chat@" + DIGEST, "IfNotPresent"), ("registry.example/tiny-chat:1", "Always"),
])
def test_pull_policy_follows_the_digest(make_deployment: MakeDeployment, image: str, policy: str) -> None:
    deployment = replace(make_deployment("cpu"), image=image)
    options = KubernetesOptions(pod=PodOptions(pull_secret="registry-login"))
    spec = pod(documents(deployment, options))
    assert spec["containers"][0]["image"] == image and spec["containers"][0]["imagePullPolicy"] == policy
    assert spec["imagePullSecrets"] == [{"name": "registry-login"}]


def test_memory_from_the_model(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cuda", dtype="float32")
    size = ModelSize(weights=14 * 2**30, files=15 * 2**30, stored_dtype="bfloat16", source="test")
    sized = pod_resources(size, deployment.dtype, None, deployment.devices.shm, sizing(), cpu="4",
                          runtime_mib=deployment.devices.runtime_mib)
    container = pod(documents(deployment, KubernetesOptions(pod=PodOptions(resources=sized))))["containers"][0]
    # 14 GiB x (4 / 2 bytes) x 1.2 + 2 GiB (cuda's runtime) = 35.6 GiB -> 36 GiB, + 1 GiB of /dev/shm
    assert container["resources"]["requests"] == {"cpu": "4", "memory": "37Gi", "ephemeral-storage": "3Gi"}
    assert container["resources"]["limits"]["memory"] == "37Gi", "request = limit: not killed while it loads"


def test_spread_and_hpa_behaviour(make_deployment: MakeDeployment) -> None:
    options = KubernetesOptions(replicas=2, hpa_max=5, hpa_cpu=60, pdb=1, pod=PodOptions(start_seconds=900))
    docs = documents(make_deployment("cpu"), options)
    assert docs["deployment.yaml"]["spec"]["replicas"] == 2
    assert pod(docs)["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "tiny-chat"}}}]
    hpa = docs["hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "tiny-chat"}
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 900, "longer than a pod takes to start"
    assert docs["pdb.yaml"]["spec"] == {"minAvailable": 1,
                                        "selector": {"matchLabels": {"app.kubernetes.io/name": "tiny-chat"}}}
    assert docs["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert "topologySpreadConstraints" not in pod(documents(make_deployment("cpu"))), "one replica: nothing to spread"


def test_runtime_class_and_node_selector_options(make_deployment: MakeDeployment) -> None:
    options = KubernetesOptions(pod=PodOptions(node_selector=(("cloud.google.com/gke-tpu-topology", "2x2"),
                                                              ("pool", "tpu")), runtime_class="gvisor"))
    spec = pod(documents(make_deployment("tpu"), options))
    assert spec["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice", "cloud.google.com/gke-tpu-topology": "2x2",
        "pool": "tpu"}
    assert spec["runtimeClassName"] == "gvisor"


@pytest.mark.parametrize(("volume", "expected"), [
    ("pvc:models", {"persistentVolumeClaim": {"claimName": "models", "readOnly": True}}),
    ("hostpath:/srv/models/tiny", {"hostPath": {"path": "/srv/models/tiny", "type": "Directory"}}),
])
def test_mount_model_volume(make_deployment: MakeDeployment, volume: str, expected: dict[str, Any]) -> None:
    spec = pod(documents(make_deployment("cpu", kind="mount"), KubernetesOptions(pod=PodOptions(model_volume=volume))))
    assert spec["volumes"][2] == {"name": "model", **expected}
    assert spec["containers"][0]["volumeMounts"][2] == {"name": "model", "mountPath": "/models/tiny", "readOnly": True}


def test_fetch_at_start_init_container_and_claim(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cuda", kind="hub", fetch="start")
    options = KubernetesOptions(pod=PodOptions(hf_token_secret="hf:HF_TOKEN", hf_endpoint="https://hub.example"))
    docs = documents(deployment, options)
    spec = pod(docs)
    init = spec["initContainers"][0]
    assert init["image"] == deployment.image and init["name"] == "fetch-model"
    assert init["command"] == ["/opt/venv/bin/python", "/opt/dockyard/hub_model.py", "org/tiny", "a" * 40,
                               "/opt/model"]
    assert init["env"] == [{"name": "HF_ENDPOINT", "value": "https://hub.example"}]
    assert {"name": "model", "mountPath": "/opt/model"} in init["volumeMounts"]
    assert {"name": "hf-token", "mountPath": "/run/secrets", "readOnly": True} in init["volumeMounts"]
    server = spec["containers"][0]
    assert {"name": "model", "mountPath": "/opt/model", "readOnly": True} in server["volumeMounts"]
    assert all(m["name"] != "hf-token" for m in server["volumeMounts"]), "the token reaches the fetch step only"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["model"] == {"name": "model", "persistentVolumeClaim": {"claimName": "tiny-chat-model"}}
    assert volumes["hf-token"]["secret"] == {"secretName": "hf", "optional": True, "defaultMode": 0o440,
                                             "items": [{"key": "HF_TOKEN", "path": "hf_token"}]}
    claim = docs["pvc.yaml"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["metadata"]["name"] == "tiny-chat-model"
    many = documents(deployment, KubernetesOptions(replicas=2, hpa_max=4))
    assert many["pvc.yaml"]["spec"]["accessModes"] == ["ReadWriteMany"], "replicas share one claim"
    per_pod = documents(deployment, KubernetesOptions(pod=PodOptions(model_volume="emptydir")))
    assert "pvc.yaml" not in per_pod
    assert {v["name"]: v for v in pod(per_pod)["volumes"]}["model"]["emptyDir"]["sizeLimit"] == "50Gi"
    cpu_single = documents(make_deployment("cpu", kind="hub", fetch="start"))
    assert cpu_single["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0, \
        "a ReadWriteOnce claim cannot be attached twice during a rollout"


@pytest.mark.parametrize(("kind", "serve", "options", "message"), [
    ("mount", {}, KubernetesOptions(), "no volume was named"),
    ("mount", {}, KubernetesOptions(pod=PodOptions(model_volume="nfs:/x")), "not pvc:CLAIM or hostpath:/ABSOLUTE/DIR"),
    ("mount", {}, KubernetesOptions(pod=PodOptions(model_volume="hostpath:relative")), "not pvc:CLAIM"),
    ("path", {}, KubernetesOptions(pod=PodOptions(model_volume="pvc:models")), "the model is baked into the image"),
    ("path", {}, KubernetesOptions(pod=PodOptions(hf_token_secret="hf")), "nothing is downloaded at start"),
    ("hub", {"fetch": "start"}, KubernetesOptions(pod=PodOptions(model_volume="nfs:/x")), "not pvc:CLAIM"),
    ("path", {}, KubernetesOptions(replicas=0), "--replicas 0: must be 1 or more"),
    ("path", {}, KubernetesOptions(replicas=3, hpa_max=2), "--hpa-max 2 is below --replicas 3"),
    ("path", {}, KubernetesOptions(hpa_max=3, hpa_cpu=0), "--hpa-cpu 0"),
    ("path", {}, KubernetesOptions(replicas=1, pdb=1), "no node can ever be drained"),
    ("path", {}, KubernetesOptions(autoscale="keda"), "--autoscale keda needs --hpa-max"),
])
def test_bad_options(make_deployment: MakeDeployment, kind: str, serve: dict[str, str], options: KubernetesOptions,
                     message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_kubernetes(make_deployment("cpu", kind=kind, **serve), options)


def test_every_output_passes_kubernetes_validate(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    files = []
    for target in sorted(RESOURCES):
        for kind, serve, volume in (("path", {}, None), ("mount", {}, "pvc:models"), ("hub", {"fetch": "start"}, None)):
            options = KubernetesOptions(replicas=2, hpa_max=4, pdb=1, namespace="models",
                                        pod=PodOptions(model_volume=volume, pull_secret="login", runtime_class="nvidia",
                                                       hf_token_secret="hf" if serve else None))
            folder = tmp_path / f"{target}-{kind}"
            files += write_all(folder, render_kubernetes(make_deployment(target, kind=kind, **serve), options))
    validate_files(files)


def test_kubernetes_validate_catches_a_broken_manifest(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    manifest = yaml.safe_load(render_kubernetes(make_deployment("cuda"))["deployment.yaml"])
    manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRoot"] = True
    broken = tmp_path / "deployment.yaml"
    broken.write_text(yaml.safe_dump(manifest))
    done = subprocess.run([*validator(), str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "readOnlyRoot" in done.stdout + done.stderr


def test_deterministic(make_deployment: MakeDeployment) -> None:
    options = KubernetesOptions(replicas=2, hpa_max=3, pdb=1)
    assert render_kubernetes(make_deployment("tpu"), options) == render_kubernetes(make_deployment("tpu"), options)
