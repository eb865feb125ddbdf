"""Kubernetes manifests for every target: resources and node selectors from knowledge/deploy.toml, the
restricted securityContext, /health probes, volumes, optional HPA and PDB; and every output passes
kubernetes-validate --strict (offline schemas)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.deploy.files import write_all
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.errors import InputError

from .conftest import MakeDeployment

RESOURCES = {
    "cpu": {},
    "intel-cpu": {},
    "cuda": {"nvidia.com/gpu": 1},
    "rocm": {"amd.com/gpu": 1},
    "xpu": {"gpu.intel.com/i915": 1},
    "tpu": {"google.com/tpu": 1},
}
TPU_NODES = {"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice", "cloud.google.com/gke-tpu-topology": "1x1"}


def documents(deployment: Any, options: KubernetesOptions | None = None) -> dict[str, dict[str, Any]]:
    rendered = render_kubernetes(deployment, options or KubernetesOptions())
    return {name: yaml.safe_load(text) for name, text in rendered.items()}


def pod(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["deployment.yaml"]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("target", sorted(RESOURCES))
def test_resources_per_target(make_deployment: MakeDeployment, target: str) -> None:
    spec = pod(documents(make_deployment(target)))
    limits = spec["containers"][0]["resources"]["limits"]
    assert {k: v for k, v in limits.items() if k != "memory"} == RESOURCES[target]
    assert spec.get("nodeSelector", {}) == (TPU_NODES if target == "tpu" else {})


def test_pod_is_restricted_and_probed(make_deployment: MakeDeployment) -> None:
    docs = documents(make_deployment("cuda", grace_seconds=40))
    assert sorted(docs) == ["deployment.yaml", "service.yaml"]
    spec = pod(docs)
    assert spec["terminationGracePeriodSeconds"] == 40
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    container = spec["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 1000,
        "runAsGroup": 1000, "capabilities": {"drop": ["ALL"]}}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}, "warm before traffic"
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] == 600
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/home/dockyard/.cache/huggingface"}
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}, {"name": "hf-cache", "emptyDir": {}}]
    strategy = docs["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}, "one GPU per replica: no spare needed to roll"
    service = docs["service.yaml"]["spec"]
    assert service["selector"] == {"app.kubernetes.io/name": "tiny-chat"} and service["ports"][0]["port"] == 8000


def test_hpa_and_pdb(make_deployment: MakeDeployment) -> None:
    docs = documents(make_deployment("cpu"), KubernetesOptions(replicas=2, hpa_max=5, hpa_cpu=60, pdb=1))
    assert docs["deployment.yaml"]["spec"]["replicas"] == 2
    hpa = docs["hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "tiny-chat"}
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert docs["pdb.yaml"]["spec"] == {"minAvailable": 1,
                                        "selector": {"matchLabels": {"app.kubernetes.io/name": "tiny-chat"}}}
    assert docs["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


@pytest.mark.parametrize(("volume", "expected"), [
    ("pvc:models", {"persistentVolumeClaim": {"claimName": "models", "readOnly": True}}),
    ("hostpath:/srv/models/tiny", {"hostPath": {"path": "/srv/models/tiny", "type": "Directory"}}),
])
def test_mount_model_volume(make_deployment: MakeDeployment, volume: str, expected: dict[str, Any]) -> None:
    spec = pod(documents(make_deployment("cpu", kind="mount"), KubernetesOptions(model_volume=volume)))
    assert spec["volumes"][2] == {"name": "model", **expected}
    assert spec["containers"][0]["volumeMounts"][2] == {"name": "model", "mountPath": "/models/tiny", "readOnly": True}


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("mount", KubernetesOptions(), "no volume was named"),
    ("mount", KubernetesOptions(model_volume="nfs:/x"), "not pvc:CLAIM or hostpath:/ABSOLUTE/DIR"),
    ("mount", KubernetesOptions(model_volume="hostpath:relative"), "not pvc:CLAIM"),
    ("path", KubernetesOptions(model_volume="pvc:models"), "the model is baked into the image"),
    ("path", KubernetesOptions(replicas=0), "--replicas 0: must be 1 or more"),
    ("path", KubernetesOptions(replicas=3, hpa_max=2), "--hpa-max 2 is below --replicas 3"),
    ("path", KubernetesOptions(hpa_max=3, hpa_cpu=0), "--hpa-cpu 0"),
    ("path", KubernetesOptions(replicas=1, pdb=1), "no node can ever be drained"),
])
def test_bad_options(make_deployment: MakeDeployment, kind: str, options: KubernetesOptions, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_kubernetes(make_deployment("cpu", kind=kind), options)


def test_node_selector_option_adds_and_overrides(make_deployment: MakeDeployment) -> None:
    options = KubernetesOptions(node_selector=(("cloud.google.com/gke-tpu-topology", "2x2"), ("pool", "tpu")))
    assert pod(documents(make_deployment("tpu"), options))["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice", "cloud.google.com/gke-tpu-topology": "2x2",
        "pool": "tpu"}


def validator() -> list[str]:
    exe = Path(sys.executable).parent / "kubernetes-validate"
    found = str(exe) if exe.exists() else shutil.which("kubernetes-validate")
    if found is None:
        pytest.fail("kubernetes-validate is missing: pip install -e '.[dev]'")
    return [found, "--strict"]


def test_every_output_passes_kubernetes_validate(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    files = []
    for target in sorted(RESOURCES):
        for kind, volume in (("path", None), ("mount", "pvc:models")):
            options = KubernetesOptions(replicas=2, hpa_max=4, pdb=1, model_volume=volume)
            folder = tmp_path / f"{target}-{kind}"
            files += write_all(folder, render_kubernetes(make_deployment(target, kind=kind), options))
    done = subprocess.run([*validator(), *map(str, files)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" passed for resource ") == len(files), done.stdout


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


def test_settings_are_env_the_key_a_secret(make_deployment: MakeDeployment) -> None:
    """Issue 22: every run-time setting is in env with the image's default; the API key comes from the
    Secret NAME-api-key, as a variable or a file, as the spec says."""
    container = pod(documents(make_deployment("cpu", dtype="bfloat16", api_key="env:API_KEY")))["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["DOCKYARD_SERVE_DTYPE"]["value"] == "bfloat16" and env["DOCKYARD_SERVE_NAME"]["value"] == "tiny-chat"
    assert env["DOCKYARD_SERVE_KEY_SOURCE"]["value"] == "env:API_KEY"
    assert env["API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "tiny-chat-api-key", "key": "api-key"}}
    spec = pod(documents(make_deployment("cpu", api_key="file:/run/secrets/key")))
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "api-key")
    assert mount == {"name": "api-key", "mountPath": "/run/secrets", "readOnly": True}
    volume = next(v for v in spec["volumes"] if v["name"] == "api-key")
    assert volume["secret"]["secretName"] == "tiny-chat-api-key"
    assert volume["secret"]["items"] == [{"key": "api-key", "path": "key"}]
    assert not any(item["name"] == "API_KEY" for item in spec["containers"][0]["env"])
