"""KServe InferenceService and KEDA ScaledObject outputs, validated against the published CRD schemas
(tests/data/crds: KServe v0.20.0, KEDA v2.20.2) made strict; the pod inside is the Kubernetes output's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.deploy.files import write_all
from dockyard.deploy.keda import KedaOptions
from dockyard.deploy.kserve import render_kserve
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.deploy.pod import PodOptions
from dockyard.errors import InputError

from .conftest import MakeDeployment
from .schemas import custom_errors, validate_files

PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
KEDA = KubernetesOptions(replicas=2, hpa_max=6, autoscale="keda", namespace="models",
                         keda=KedaOptions(prometheus=PROMETHEUS, in_flight=8))


def load(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text) for name, text in files.items()}


def test_scaled_object_scales_on_in_flight_requests(make_deployment: MakeDeployment) -> None:
    docs = load(render_kubernetes(make_deployment("cuda"), KEDA))
    assert "hpa.yaml" not in docs, "KEDA makes its own HPA: one autoscaler per Deployment"
    scaled = docs["scaledobject.yaml"]
    assert custom_errors(scaled) == []
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "tiny-chat"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 6)
    [trigger] = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"] == {
        "serverAddress": PROMETHEUS, "threshold": "8",
        "query": 'sum(haproxy_backend_current_sessions{proxy=~"api_.*",namespace="models",pod=~"tiny-chat-.*"})'}
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] \
        == 600
    template = docs["deployment.yaml"]["spec"]["template"]["metadata"]
    assert template["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "8000",
                                       "prometheus.io/path": "/metrics"}, "Prometheus scrapes the gateway"


def test_inference_service_is_a_custom_predictor(make_deployment: MakeDeployment) -> None:
    deployment = make_deployment("cuda", grace_seconds=60)
    options = KubernetesOptions(replicas=1, hpa_max=3, hpa_cpu=65, namespace="models",
                                pod=PodOptions(pull_secret="login"))
    docs = load(render_kserve(deployment, options))
    assert sorted(docs) == ["inferenceservice.yaml", "networkpolicy.yaml"]
    isvc = docs["inferenceservice.yaml"]
    assert custom_errors(isvc) == []
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Standard",
                                               "serving.kserve.io/autoscalerClass": "hpa"}
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
    assert predictor["autoScaling"] == {"metrics": [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}}}]}
    [container] = predictor["containers"]
    assert container["name"] == "kserve-container" and container["image"] == deployment.image
    assert container["ports"] == [{"name": "http1", "containerPort": 8000, "protocol": "TCP"}]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http1"}
    assert predictor["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert predictor["terminationGracePeriodSeconds"] == 65
    assert predictor["deploymentStrategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert predictor["labels"]["app.kubernetes.io/version"] == deployment.version
    assert predictor["imagePullSecrets"] == [{"name": "login"}]
    assert docs["networkpolicy.yaml"]["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name":
                                                                                 "tiny-chat"}}


def test_inference_service_with_keda_and_fetch_at_start(make_deployment: MakeDeployment) -> None:
    docs = load(render_kserve(make_deployment("cpu", kind="hub", fetch="start"), KEDA))
    isvc = docs["inferenceservice.yaml"]
    assert custom_errors(isvc) == []
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
    scaling = isvc["spec"]["predictor"]["autoScaling"]
    assert scaling["metrics"] == [{"type": "External", "external": {
        "metric": {"backend": "prometheus", "serverAddress": PROMETHEUS,
                   "query": 'sum(haproxy_backend_current_sessions{proxy=~"api_.*",namespace="models",'
                            'pod=~"tiny-chat-predictor-.*"})'},
        "target": {"type": "Value", "value": "8"}}}], "KServe passes target.value on as KEDA's threshold"
    assert scaling["behavior"] == {"scaleUp": {"stabilizationWindowSeconds": 600},
                                   "scaleDown": {"stabilizationWindowSeconds": 300}}
    assert isvc["spec"]["predictor"]["initContainers"][0]["name"] == "fetch-model"
    assert docs["pvc.yaml"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_schemas_refuse_what_the_projects_refuse(make_deployment: MakeDeployment) -> None:
    """Controls: the strict CRD schemas catch an unknown field, a wrong type and an int32 overflow."""
    isvc = load(render_kserve(make_deployment("cpu")))["inferenceservice.yaml"]
    isvc["spec"]["predictor"]["replicas"] = 2
    assert any("replicas" in error for error in custom_errors(isvc))
    scaled = load(render_kubernetes(make_deployment("cpu"), KEDA))["scaledobject.yaml"]
    scaled["spec"]["maxReplicaCount"] = 2**31
    assert any("maxReplicaCount" in error for error in custom_errors(scaled))
    scaled["spec"]["maxReplicaCount"] = "six"
    assert custom_errors(scaled)


@pytest.mark.parametrize(("options", "message"), [
    (KubernetesOptions(hpa_max=2, autoscale="keda"), "--autoscale keda needs --prometheus URL"),
    (KubernetesOptions(hpa_max=2, autoscale="keda", keda=KedaOptions(prometheus="http://p:9090/?q=1")),
     "not an http(s) URL"),
    (KubernetesOptions(hpa_max=2, autoscale="keda", keda=KedaOptions(prometheus="http://p", in_flight=0)),
     "--in-flight 0"),
])
def test_bad_keda_options(make_deployment: MakeDeployment, options: KubernetesOptions, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_kubernetes(make_deployment("cpu"), options)
    with pytest.raises(InputError):
        render_kserve(make_deployment("cpu"), options)


def test_every_kserve_output_validates(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    files = []
    for target in ("cpu", "cuda", "rocm", "xpu", "tpu"):
        for kind, serve, volume in (("path", {}, None), ("mount", {}, "pvc:models"), ("hub", {"fetch": "start"},
                                                                                     "emptydir")):
            for options in (KubernetesOptions(replicas=2, hpa_max=4, pod=PodOptions(model_volume=volume)),
                            KubernetesOptions(**{**KEDA.__dict__, "pod": PodOptions(model_volume=volume)})):
                folder = tmp_path / f"{target}-{kind}-{options.autoscale}"
                files += write_all(folder, render_kserve(make_deployment(target, kind=kind, **serve), options))
    validate_files(files)
