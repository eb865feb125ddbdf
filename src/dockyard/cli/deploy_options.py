"""The options of `dockyard deploy --to kubernetes|kserve`: registered once, turned into the library's
options (the pod sized from the model: a path: folder's weight files, a hub: model's file list when the
Hub answers), rendered."""

from __future__ import annotations

import argparse
import os
from typing import Any

from dockyard.deploy.keda import KedaOptions
from dockyard.deploy.kserve import render_kserve
from dockyard.deploy.kubernetes import KubernetesOptions, render_kubernetes
from dockyard.deploy.model import Deployment
from dockyard.deploy.pod import PodOptions
from dockyard.deploy.resources import PodResources, pod_resources
from dockyard.deploy.weights import ModelSize, folder_size, hub_size
from dockyard.errors import InputError
from dockyard.knowledge.deploy import sizing
from dockyard.spec.secrets import refuse_secret_value

HUB = "https://huggingface.co"
KUBERNETES_ONLY = ("replicas", "hpa_max", "hpa_cpu", "pdb", "model_volume", "node_selector", "cpu", "memory",
                   "namespace", "pull_secret", "autoscale", "prometheus", "in_flight", "runtime_class",
                   "hf_token_secret", "hf_endpoint")


def add_cluster_options(group: Any) -> None:
    group.add_argument("--namespace", help="the namespace every object goes into (default: kubectl's)")
    group.add_argument("--pull-secret", metavar="NAME", help="imagePullSecrets: a docker-registry Secret for a "
                       "private registry")
    group.add_argument("--replicas", type=int, help="pods (default 1); with an accelerator, one each")
    group.add_argument("--hpa-max", type=int, metavar="N", help="autoscale up to N pods (an HPA, a KEDA "
                       "ScaledObject, or KServe's autoscaler)")
    group.add_argument("--autoscale", choices=("hpa", "keda"), help="what scales: CPU utilisation (hpa, default) or "
                       "in-flight requests at the gateway through KEDA and Prometheus (keda)")
    group.add_argument("--hpa-cpu", type=int, metavar="PERCENT", help="the HPA's CPU utilisation target (default 70)")
    group.add_argument("--prometheus", metavar="URL", help="with --autoscale keda: the Prometheus server KEDA asks")
    group.add_argument("--in-flight", type=int, metavar="N", help="with --autoscale keda: in-flight requests per "
                       "replica to aim at (default from knowledge/deploy.toml)")
    group.add_argument("--pdb", type=int, metavar="N", help="add a PodDisruptionBudget keeping N pods available")
    group.add_argument("--model-volume", metavar="pvc:CLAIM|hostpath:/DIR|emptydir",
                       help="where a mount: model comes from; for fetch = \"start\", where it is fetched into "
                            "(default: a new PersistentVolumeClaim, pvc.yaml)")
    group.add_argument("--hf-token-secret", metavar="NAME[:KEY]", help="a Secret holding the Hub token for a fetch at "
                       "start (key default: token); mounted into the fetch step only")
    group.add_argument("--hf-endpoint", metavar="URL", help="a Hub mirror for the fetch at start (and for sizing a "
                        "hub: model; default $HF_ENDPOINT or huggingface.co)")
    group.add_argument("--node-selector", action="append", metavar="KEY=VALUE",
                       help="schedule on nodes with this label (repeatable; adds to the target's)")
    group.add_argument("--runtime-class", metavar="NAME", help="runtimeClassName (e.g. nvidia where the GPU Operator "
                       "made one)")
    group.add_argument("--cpu", help="CPU request (default 1); OMP_NUM_THREADS follows it")
    group.add_argument("--memory", help="memory request and limit (default: from the model's size)")


def _pairs(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        refuse_secret_value(item, "--node-selector")
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--node-selector {item!r} is not KEY=VALUE", "e.g. --node-selector pool=gpu")
        pairs.append((key, value))
    return tuple(pairs)


def model_size(deployment: Deployment, endpoint: str) -> tuple[ModelSize | None, str]:
    """The model's size where it can be known here, else (None, why not)."""
    model = deployment.model
    patterns = sizing().weight_files
    if model.kind == "path" and model.path is not None:
        return folder_size(model.path, patterns), ""
    if model.kind == "hub":
        return hub_size(model.ref, model.revision, endpoint, os.environ.get("HF_TOKEN") or None, patterns)
    return None, f"a {model.kind}: model is not read before it is mounted"


def resources(args: argparse.Namespace, deployment: Deployment, endpoint: str) -> PodResources:
    size, why = model_size(deployment, endpoint) if args.memory is None or deployment.model.fetched_at_start \
        else (None, "")
    return pod_resources(size, deployment.dtype, deployment.quantization, deployment.devices.shm, sizing(),
                         args.cpu, args.memory, why, deployment.devices.runtime_mib)


TEXT_OPTIONS = ("model_volume", "cpu", "memory", "namespace", "pull_secret", "prometheus", "runtime_class",
                "hf_token_secret", "hf_endpoint")


def cluster_files(args: argparse.Namespace, deployment: Deployment, notes: tuple[str, ...]) \
        -> tuple[dict[str, str], tuple[str, ...]]:
    """(file name -> text, notes on how the pod was sized)."""
    for name in TEXT_OPTIONS:
        if getattr(args, name) is not None:
            refuse_secret_value(getattr(args, name), "--" + name.replace("_", "-"))
    if args.to == "kserve" and args.pdb is not None:
        raise InputError("--pdb applies to --to kubernetes, not --to kserve", "leave --pdb out: KServe makes the "
                         "Deployment and its disruption handling itself")
    if args.autoscale != "keda":
        for flag, value in (("--prometheus", args.prometheus), ("--in-flight", args.in_flight)):
            if value is not None:
                raise InputError(f"{flag} goes with --autoscale keda", f"add --autoscale keda, or leave {flag} out")
    elif args.hpa_cpu is not None:
        raise InputError("--hpa-cpu goes with the CPU autoscaler, not --autoscale keda",
                         "leave --hpa-cpu out (KEDA scales on in-flight requests: --in-flight N)")
    endpoint = args.hf_endpoint or os.environ.get("HF_ENDPOINT") or HUB
    sized = resources(args, deployment, endpoint)
    pod = PodOptions(
        model_volume=args.model_volume, node_selector=_pairs(args.node_selector), resources=sized,
        start_seconds=args.start_timeout,
        pull_secret=args.pull_secret,
        runtime_class=args.runtime_class, hf_token_secret=args.hf_token_secret, hf_endpoint=args.hf_endpoint)
    options = KubernetesOptions(
        replicas=args.replicas if args.replicas is not None else 1, hpa_max=args.hpa_max,
        hpa_cpu=args.hpa_cpu if args.hpa_cpu is not None else 70, autoscale=args.autoscale or "hpa",
        keda=KedaOptions(prometheus=args.prometheus or "", in_flight=args.in_flight), pdb=args.pdb,
        namespace=args.namespace, pod=pod)
    if args.to == "kserve":
        return render_kserve(deployment, options, notes), sized.notes
    return render_kubernetes(deployment, options, notes), sized.notes
