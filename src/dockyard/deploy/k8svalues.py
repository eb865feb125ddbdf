"""Kubernetes' own rules for the values dockyard writes into manifests, checked before anything is
written, so `kubectl apply` never meets a manifest the API server refuses (or reads differently).

Each rule is the API's validation (k8s.io/apimachinery/pkg/util/validation and resource.Quantity):
- DNS-1123 label: lowercase letters, digits and '-', starting and ending alphanumeric, at most 63
  characters (most object names); DNS-1035 label: the same but starting with a letter (a Service name);
  DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 (a PersistentVolumeClaim name).
- label key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 alphanumerics,
  '-', '_' or '.', starting and ending alphanumeric; a label value: empty or such a name.
- quantity: a non-negative decimal number with an optional suffix (Ki Mi Gi Ti Pi Ei, m k M G T P E, or
  an exponent e/E); no spaces ("4 GB" is not one).
- integers in int32 fields (replicas, ports, probe thresholds) are at most 2^31 - 1.

Each check raises InputError naming the option or key, the value (shown literally) and the rule.
"""

from __future__ import annotations

import re

from dockyard.errors import InputError

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
DNS1035_LABEL = re.compile(r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
INT32_MAX = 2**31 - 1


def _refuse(where: str, value: object, rule: str, hint: str) -> InputError:
    return InputError(f"{where} {value!r}: {rule}", hint)


def dns1123_label(value: str, where: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL.match(value):
        raise _refuse(where, value, "not a DNS-1123 label (lowercase letters, digits and '-', starting and ending "
                      "with a letter or digit, at most 63 characters)", "e.g. my-model")
    return value


def dns1035_label(value: str, where: str) -> str:
    if len(value) > 63 or not DNS1035_LABEL.match(value):
        raise _refuse(where, value, "not a DNS-1035 label (lowercase letters, digits and '-', starting with a "
                      "letter, ending with a letter or digit, at most 63 characters)", "e.g. my-model")
    return value


def dns1123_subdomain(value: str, where: str) -> str:
    if len(value) > 253 or not DNS1123_SUBDOMAIN.match(value):
        raise _refuse(where, value, "not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 "
                      "characters)", "e.g. models or models.team-a")
    return value


def label_key(value: str, where: str) -> str:
    prefix, slash, name = value.rpartition("/")
    bad_prefix = slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix))
    if bad_prefix or len(name) > 63 or not QUALIFIED_NAME.match(name):
        raise _refuse(where, value, "not a label key (an optional DNS subdomain and '/', then at most 63 letters, "
                      "digits, '-', '_' or '.', starting and ending with a letter or digit)",
                      "e.g. pool or cloud.google.com/gke-tpu-topology")
    return value


def label_value(value: str, where: str) -> str:
    if value and (len(value) > 63 or not QUALIFIED_NAME.match(value)):
        raise _refuse(where, value, "not a label value (empty, or at most 63 letters, digits, '-', '_' or '.', "
                      "starting and ending with a letter or digit)", "e.g. gpu or v5e-8")
    return value


def quantity(value: str, where: str) -> str:
    if len(value) > 64 or not QUANTITY.match(value):
        raise _refuse(where, value, "not a Kubernetes quantity (a number and an optional suffix such as m, Ki, Mi, "
                      "Gi, k, M, G, with no spaces)", "e.g. --cpu 500m or 2, --memory 4Gi or 4G")
    return value


def int32(value: int, where: str, minimum: int = 0) -> int:
    if not minimum <= value <= INT32_MAX:
        raise _refuse(where, value, f"out of range for the API ({minimum} to {INT32_MAX})", "use a smaller number")
    return value
