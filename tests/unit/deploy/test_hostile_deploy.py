"""Hostile `[serve]` values and deploy options against the compose and Kubernetes writers (issue 21):
each value is either refused by the check that guards it (InputError, exit 2) or written so that the
output, parsed back, has exactly the structure dockyard meant and the value reads back unchanged: in
compose after compose's own interpolation (`$$` is one `$`; no variable but dockyard's), in Kubernetes
as the API would read it (and only values the API accepts)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.deploy import k8svalues
from dockyard.deploy.binding import bind_address
from dockyard.deploy.compose import ComposeOptions, render_compose
from dockyard.deploy.kubernetes import KubernetesOptions, manifests, render_kubernetes
from dockyard.deploy.model import Deployment
from dockyard.deploy.pod import PodOptions
from dockyard.deploy.resources import pod_resources
from dockyard.errors import InputError
from dockyard.knowledge.deploy import sizing
from dockyard.spec.serve import ServeModel
from dockyard.spec.servepaths import check_cache_path, check_mount_path

from .conftest import MakeDeployment

HOSTILE = ["$HOME", "${SECRET}", "$${x}", "${MODEL_DIR:?x}", "a:b:ro", "a,b", "x\ny: 1", "'", '"', "#x", "- x",
           "{a: 1}", "[1]", "a: b", "~", "null", "yes", "0x10", "1e3", "\x1b[2J", "\u2028", "..", "/", "", " lead"]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))
VARIABLE = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
DOCKYARD_VARIABLES = ("MODEL_DIR", "RENDER_GID")


def compose_read(value: str) -> str:
    """A string as compose reads it: `$$` is `$`; any other `$NAME`/`${...}` must be dockyard's own."""
    for found in VARIABLE.finditer(value.replace("$$", "")):
        assert found.group(0).lstrip("${").startswith(DOCKYARD_VARIABLES), f"compose would interpolate {value!r}"
    return value.replace("$$", "$")


def shape(node: Any, values: bool = False) -> Any:
    """The structure of a document: keys and list lengths, with every scalar replaced by its type (and the
    keys of a mapping of user values, a nodeSelector, replaced by their types too)."""
    if isinstance(node, dict):
        if values:
            return sorted((type(k).__name__, shape(v)) for k, v in node.items())
        return {k: shape(v, k == "nodeSelector") for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node]
    return type(node).__name__


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    from dockyard.deploy.model import from_plan
    from dockyard.resolve.resolver import resolve
    from dockyard.spec.model import load

    from .conftest import serve_spec

    folder = tmp_path_factory.mktemp("hostile")
    return from_plan(resolve(load(str(serve_spec(folder, "cpu", "mount")))))


def with_serve(deployment: Deployment, mount: str, cache: str) -> Deployment | None:
    """The deployment with these [serve] paths, or None when the spec checks refuse them."""
    try:
        check_mount_path(mount, "[serve].model")
        check_cache_path(cache, mount, "[image.env].HF_HOME")
    except InputError:
        return None
    return dataclasses.replace(deployment, model=ServeModel("mount", mount), cache_dir=cache)


SEGMENT = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)


def mostly(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Three times in four a valid value, else a hostile one: the other options must often pass."""
    return st.integers(0, 3).flatmap(lambda pick: TEXT if pick == 0 else valid)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(mount=mostly(SEGMENT.map(lambda t: f"/models/{t}")), cache=mostly(SEGMENT.map(lambda t: f"/var/{t}")),
       model_dir=TEXT, bind=mostly(st.sampled_from(["127.0.0.1", "::1", "0.0.0.0", "localhost"])),
       port=st.integers(1, 65535))
def test_compose_keeps_its_structure(deployment: Deployment, mount: str, cache: str, model_dir: str, bind: str,
                                     port: int) -> None:
    changed = with_serve(deployment, mount, cache)
    if changed is None:
        return
    try:
        address = bind_address(bind)
    except InputError:
        return
    baseline = yaml.safe_load(render_compose(deployment, ComposeOptions(model_dir="/srv/m"))["compose.yaml"])
    document = yaml.safe_load(render_compose(changed, ComposeOptions(bind=address, host_port=port,
                                                                     model_dir=model_dir or None))["compose.yaml"])
    assert shape(document) == shape(baseline)
    service = document["services"][deployment.name]
    cache_mount, model_mount = service["volumes"]
    assert compose_read(cache_mount["target"]) == cache
    assert compose_read(model_mount["target"]) == mount
    if model_dir:
        assert compose_read(model_mount["source"]) == model_dir
    host, _, rest = service["ports"][0].rpartition(f":{port}:")
    assert rest == str(deployment.port) and host.strip("[]") == address
    for text in _strings(document):
        compose_read(text)
    REACHED["compose"] += 1


REACHED = {"compose": 0, "kubernetes": 0}


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


VALID = {"key": "pool", "value": "gpu", "cpu": "500m", "memory": "4Gi", "claim": "models", "replicas": 2}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(field=st.sampled_from(sorted(VALID)), text=TEXT, number=st.integers(-5, 2**33))
def test_kubernetes_keeps_its_structure(deployment: Deployment, field: str, text: str, number: int) -> None:
    """One option hostile at a time (the others valid): refused, or written as the API reads it."""
    given_ = {**VALID, field: number if field == "replicas" else text}
    try:
        options = KubernetesOptions(replicas=given_["replicas"], pod=PodOptions(
            node_selector=((given_["key"], given_["value"]),), model_volume=f"pvc:{given_['claim']}",
            resources=pod_resources(None, None, None, "", sizing(), cpu=given_["cpu"], memory=given_["memory"])))
        texts = render_kubernetes(deployment, options)
    except InputError:
        return
    baseline = manifests(deployment, KubernetesOptions(replicas=given_["replicas"], pod=PodOptions(
        node_selector=(("pool", "gpu"),), model_volume="pvc:models")))
    for name, text_ in texts.items():
        assert shape(yaml.safe_load(text_)) == shape(baseline[name])
    pod = yaml.safe_load(texts["deployment.yaml"])["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {given_["key"]: given_["value"]}
    requests = pod["containers"][0]["resources"]["requests"]
    assert (requests["cpu"], requests["memory"]) == (given_["cpu"], given_["memory"])
    assert pod["volumes"][-1]["persistentVolumeClaim"]["claimName"] == given_["claim"]
    # only what the API accepts was written
    k8svalues.label_key(given_["key"], "k")
    k8svalues.label_value(given_["value"], "v")
    k8svalues.quantity(given_["cpu"], "c")
    k8svalues.dns1123_subdomain(given_["claim"], "p")
    assert 1 <= given_["replicas"] <= k8svalues.INT32_MAX
    REACHED["kubernetes"] += 1


def test_the_properties_wrote_outputs() -> None:
    """Runs after the two properties (file order): a good share of their examples got past the checks (the
    properties are derandomized, so the share is the same on every run)."""
    assert REACHED["compose"] >= 30 and REACHED["kubernetes"] >= 30, REACHED


def _pod(**given: Any) -> KubernetesOptions:
    cpu, memory = given.pop("cpu", None), given.pop("memory", None)
    replicas = given.pop("replicas", 1)
    return KubernetesOptions(replicas=replicas, pod=PodOptions(
        model_volume=given.pop("model_volume", "pvc:m"),
        resources=pod_resources(None, None, None, "", sizing(), cpu=cpu) if cpu else None, **given)) \
        if memory is None else KubernetesOptions(pod=PodOptions(model_volume="pvc:m", resources=pod_resources(
            None, None, None, "", sizing(), memory=memory)))


@pytest.mark.parametrize(("options", "message"), [
    (lambda: _pod(cpu="lots"), "--cpu 'lots': not a Kubernetes quantity"),
    (lambda: _pod(memory="4 GB"), "--memory '4 GB': not a Kubernetes quantity"),
    (lambda: _pod(replicas=2**31), "--replicas 2147483648: out of range"),
    (lambda: _pod(start_seconds=2**40), "--start-timeout"),
    (lambda: _pod(node_selector=(("bad key!", "x"),)), "not a label key"),
    (lambda: _pod(node_selector=(("pool", "a b"),)), "not a label value"),
    (lambda: _pod(model_volume="pvc:Bad_Claim"), "not a DNS-1123 subdomain"),
    (lambda: _pod(pull_secret="Login"), "--pull-secret 'Login': not a DNS-1123 subdomain"),
    (lambda: _pod(runtime_class="nvidia gpu"), "--runtime-class"),
    (lambda: KubernetesOptions(namespace="Models"), "--namespace 'Models': not a DNS-1123 label"),
])
def test_kubernetes_values_follow_the_api(deployment: Deployment, options: Any, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        manifests(deployment, options())


def test_a_service_name_starts_with_a_letter(make_deployment: MakeDeployment, tmp_path: Path) -> None:
    from dockyard.deploy.model import dns_label

    assert dns_label("1model") == "serve-1model" and dns_label("My_Model.v2") == "my-model-v2"
    k8svalues.dns1035_label(dns_label("9" * 80), "name")
