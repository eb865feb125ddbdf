"""Hypothesis over the Kubernetes and KServe options: whatever valid options are drawn, every file reads
back as YAML, validates (kubernetes-validate --strict's schemas, the KServe and KEDA CRDs), carries the
namespace and the version label, names the image it was given with the matching pull policy, and keeps
each value the options gave (node selector values, replica counts, secret names) as it was given."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.deploy.keda import KedaOptions
from dockyard.deploy.kserve import render_kserve
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.deploy.model import Deployment
from dockyard.deploy.pod import PodOptions

from .schemas import errors

DNS = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
LABEL_VALUE = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,30}[A-Za-z0-9])?", fullmatch=True)
IMAGES = st.sampled_from(["registry.example/team/tiny-chat@sha256:" + "ab" * 32, "registry.example/tiny-chat:1",
                          "127.0.0.1:5000/tiny-chat@sha256:" + "0f" * 32])


@st.composite
def options(draw: st.DrawFn) -> KubernetesOptions:
    replicas = draw(st.integers(1, 5))
    hpa_max = draw(st.none() | st.integers(replicas, 12))
    autoscale = draw(st.sampled_from(["hpa", "keda"])) if hpa_max is not None else "hpa"
    pod = PodOptions(
        node_selector=tuple(draw(st.dictionaries(st.sampled_from(["pool", "zone", "example.com/tier"]), LABEL_VALUE,
                                                 max_size=3)).items()),
        start_seconds=draw(st.integers(1, 7200)),
        pull_secret=draw(st.none() | DNS),
        runtime_class=draw(st.none() | DNS),
        hf_token_secret=draw(st.none() | DNS),
    )
    return KubernetesOptions(
        replicas=replicas, hpa_max=hpa_max, hpa_cpu=draw(st.integers(1, 100)), autoscale=autoscale,
        keda=KedaOptions(prometheus="http://prometheus.monitoring:9090", in_flight=draw(st.integers(1, 64))),
        pdb=draw(st.none() | st.integers(1, replicas - 1)) if replicas > 1 else None,
        namespace=draw(st.none() | DNS), pod=pod)


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Deployment]:
    """A few real deployments (resolved once: resolve is the slow part)."""
    from dockyard.deploy.model import from_plan
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load

    from .conftest import serve_spec

    folder = tmp_path_factory.mktemp("deployments")
    out = {}
    for target, kind, serve in (("cpu", "path", {}), ("cuda", "hub", {"fetch": "start"}), ("rocm", "mount", {})):
        out[(target, kind)] = from_plan(resolve(load(str(serve_spec(folder, target, kind, **serve)))))
    return out


def check(documents: dict[str, dict[str, Any]], deployment: Deployment, drawn: KubernetesOptions) -> None:
    for name, document in documents.items():
        assert errors(document) == [], (name, errors(document))
        meta = document["metadata"]
        assert meta.get("namespace") == drawn.namespace
        assert meta["labels"]["app.kubernetes.io/version"] == deployment.version


def pod_of(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if "deployment.yaml" in documents:
        spec: dict[str, Any] = documents["deployment.yaml"]["spec"]["template"]["spec"]
        return spec
    predictor: dict[str, Any] = documents["inferenceservice.yaml"]["spec"]["predictor"]
    return predictor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=options(), which=st.sampled_from([("cpu", "path"), ("cuda", "hub"), ("rocm", "mount")]),
       image=IMAGES, kserve=st.booleans())
def test_options_read_back(deployments: dict[tuple[str, str], Deployment], drawn: KubernetesOptions,
                           which: tuple[str, str], image: str, kserve: bool) -> None:
    deployment = replace(deployments[which], image=image)
    if which[1] == "mount":
        drawn = replace(drawn, pod=replace(drawn.pod, model_volume="pvc:models"))
    if which[1] != "hub":
        drawn = replace(drawn, pod=replace(drawn.pod, hf_token_secret=None))
    if kserve:
        drawn = replace(drawn, pdb=None)
    files = render_kserve(deployment, drawn) if kserve else render_kubernetes(deployment, drawn)
    documents = {name: yaml.safe_load(text) for name, text in files.items()}
    check(documents, deployment, drawn)
    pod = pod_of(documents)
    containers = [*pod.get("initContainers", []), *pod["containers"]]
    assert {c["image"] for c in containers} == {image}
    assert {c["imagePullPolicy"] for c in containers} == {"IfNotPresent" if "@sha256:" in image else "Always"}
    for key, value in drawn.pod.node_selector:
        assert pod["nodeSelector"][key] == value
    assert pod.get("runtimeClassName") == drawn.pod.runtime_class
    assert pod.get("imagePullSecrets") == ([{"name": drawn.pod.pull_secret}] if drawn.pod.pull_secret else None)
    assert ("topologySpreadConstraints" in pod) == (drawn.max_pods > 1)
    if not kserve:
        assert documents["deployment.yaml"]["spec"]["replicas"] == drawn.replicas
        scaler = "scaledobject.yaml" if drawn.autoscale == "keda" else "hpa.yaml"
        assert (scaler in documents) == (drawn.hpa_max is not None)
    else:
        assert pod["minReplicas"] == drawn.replicas and pod["maxReplicas"] == drawn.max_pods


def test_the_property_checks_can_fail(deployments: dict[tuple[str, str], Deployment]) -> None:
    """Control: a value a cluster refuses is caught by the same checks."""
    documents = {name: yaml.safe_load(text) for name, text in
                 render_kubernetes(deployments[("cpu", "path")], KubernetesOptions()).items()}
    documents["service.yaml"]["spec"]["ports"][0]["port"] = "eighty"
    assert errors(documents["service.yaml"])


def test_yaml_files_are_plain_documents(deployments: dict[tuple[str, str], Deployment], tmp_path: Path) -> None:
    text = render_kubernetes(deployments[("cuda", "hub")], KubernetesOptions())["deployment.yaml"]
    assert text.startswith("# Generated by dockyard") and "\t" not in text
    assert len(list(yaml.safe_load_all(text))) == 1
