"""Validate deploy outputs the way a cluster would: core kinds with `kubernetes-validate --strict`
(offline schemas), KServe's InferenceService and KEDA's ScaledObject against their published CRD schemas
(tests/data/crds, with source and version), made strict as the API server's field validation is."""

from __future__ import annotations

import functools
import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CRDS = Path(__file__).parents[2] / "data" / "crds"
CUSTOM = {("serving.kserve.io/v1beta1", "InferenceService"): "kserve-inferenceservice-v1beta1.json",
          ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v1alpha1.json"}
INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def strict(node: Any) -> Any:
    """An OpenAPI v3 CRD schema as a JSON Schema that refuses unknown fields and out-of-range integers."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.get("format") in INT_RANGE and out.get("type") == "integer":
        out["minimum"], out["maximum"] = INT_RANGE[out["format"]]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def crd_schema(file: str) -> dict[str, Any]:
    data = json.loads((CRDS / file).read_text())
    assert data["source"] and data["schema"]["type"] == "object"
    schema: dict[str, Any] = strict(data["schema"])
    return schema


def custom_errors(document: dict[str, Any]) -> list[str]:
    """Every schema error of a custom resource (empty when valid)."""
    file = CUSTOM[(document["apiVersion"], document["kind"])]
    validator = jsonschema.Draft7Validator(crd_schema(file))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def validator() -> list[str]:
    exe = Path(sys.executable).parent / "kubernetes-validate"
    found = str(exe) if exe.exists() else shutil.which("kubernetes-validate")
    if found is None:
        pytest.fail("kubernetes-validate is missing: pip install -e '.[dev]'")
    return [found, "--strict"]


def core_errors(document: dict[str, Any]) -> list[str]:
    """kubernetes-validate --strict, in this process (its library; the command line is the same validator)."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path))}: {exc.message}"]
    return []


def errors(document: dict[str, Any]) -> list[str]:
    if (document["apiVersion"], document["kind"]) in CUSTOM:
        return custom_errors(document)
    return core_errors(document)


def validate_files(files: Iterable[Path]) -> None:
    """Custom resources against their CRDs, the rest with kubernetes-validate's strict schemas."""
    checked = 0
    for path in files:
        document = yaml.safe_load(path.read_text())
        assert errors(document) == [], f"{path}: {errors(document)}"
        checked += 1
    assert checked
