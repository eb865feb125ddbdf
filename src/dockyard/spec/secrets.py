"""Recognise names that hold secrets, without the false positives of substring matching.

One classifier for the whole tool: `dockyard lint` (DY106), spec validation (refusing `[image.env]`
names that look secret) and `dockyard audit` (the image config's Env). A name is secret when it is a
known secret name, or ends like one (`_TOKEN`, `_API_KEY`, `_PASSWORD`, ...), unless it only configures
tokenizers or tokens of a vocabulary (TOKENIZERS_PARALLELISM, TIKTOKEN_CACHE_DIR, BOS_TOKEN) or names a
path, size or switch about a secret (HF_TOKEN_PATH, MAX_TOKENS). Generic tools that match substrings
flag TOKENIZERS_PARALLELISM in every ML image.
"""

from __future__ import annotations

import re

_SECRET_SUFFIXES = (
    "_TOKEN",
    "_API_KEY",
    "_APIKEY",
    "_SECRET",
    "_SECRET_KEY",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_PASSWORD",
    "_PASSWD",
    "_PASS",
    "_CLIENT_SECRET",
)
_SECRET_NAMES = {
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "HF_TOKEN",
    "WANDB_KEY",
    "AWS_ACCESS_KEY_ID",
    "HUGGING_FACE_HUB_TOKEN",
    "SECRET_KEY",
    "PRIVATE_KEY",
}
_NOT_SECRET_PREFIXES = ("TOKENIZERS_", "TIKTOKEN_", "TOKENIZER_")
_NOT_SECRET_SUFFIXES = (
    "_PATH",
    "_FILE",
    "_DIR",
    "_NAME",
    "_LENGTH",
    "_LEN",
    "_SIZE",
    "_TYPE",
    "_COUNT",
    "_LIMIT",
    "_TOKENS",
    "_ENABLED",
    "_DISABLED",
    "_MODE",
    "_URL_PATH",
    "_ID",
)


# Tokenizer special tokens are "tokens" of another kind: BOS_TOKEN="<s>" is configuration, not a secret.
_SPECIAL_TOKENS = re.compile(r"(^|_)(BOS|EOS|PAD|UNK|SEP|CLS|MASK|SPECIAL|START|END|STOP|IMAGE|AUDIO|VIDEO)_TOKEN$")


def looks_secret(name: str) -> bool:
    upper = name.upper()
    if _SPECIAL_TOKENS.search(upper):
        return False
    if upper in _SECRET_NAMES:
        return True
    if upper.startswith(_NOT_SECRET_PREFIXES) or "GPG" in upper or "PUBLIC" in upper:
        return False
    if upper.endswith(_NOT_SECRET_SUFFIXES):
        return False
    return upper.endswith(_SECRET_SUFFIXES)


# Shapes of credentials by their value, each from the issuer's documented token format: Hugging Face
# user access tokens (hf_ + 34 letters), GitHub (ghp_/gho_/ghu_/ghs_/ghr_ + 36, github_pat_), GitLab
# (glpat-), OpenAI/Anthropic style keys (sk-, sk-ant-), AWS access key ids (AKIA/ASIA + 16), Google API
# keys (AIza + 35), Slack (xox[abposr]-), npm (npm_ + 36), PyPI upload tokens (pypi-AgE), JWTs, PEM
# private keys; and any URL that carries a password (scheme://user:password@host).
_SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("an API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}")),
    ("a PyPI token", re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{20,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a URL with a password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")),
)


def secret_in_value(value: str) -> str | None:
    """What kind of credential `value` carries (e.g. "a GitHub token"), or None."""
    for kind, pattern in _SECRET_VALUES:
        if pattern.search(value):
            return kind
    return None


def refuse_secret_value(value: str, where: str) -> None:
    """Raise when a value that would be written into an image, a file or a log carries a credential."""
    from dockyard.errors import InputError

    kind = secret_in_value(value)
    if kind is not None:
        raise InputError(f"{where}: the value looks like {kind}; it would be stored in clear text in what "
                         "dockyard writes (image layers, plan.json, generated files, logs)",
                         "pass credentials at run time or as a build secret (dockyard build --secret "
                         "id=NAME,env=VAR, or a netrc file), never as a value")
