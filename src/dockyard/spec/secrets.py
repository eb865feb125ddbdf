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
