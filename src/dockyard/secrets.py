"""Recognise names that hold secrets, without the false positives of substring matching.

A name is split into its words (HF_TOKEN -> HF, TOKEN). It looks secret when one word is a secret word
(TOKEN, SECRET, PASSWORD, ...) or it ends in KEY (API_KEY, WANDB_KEY, AWS_SECRET_ACCESS_KEY).
TOKENIZERS_PARALLELISM, TIKTOKEN_CACHE_DIR and MAX_TOKENS are therefore not secrets, which generic
tools that match substrings get wrong.
"""

from __future__ import annotations

import re

SECRET_WORDS = frozenset({
    "TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS",
    "APIKEY", "PRIVATE",
})
SAFE_NAMES = frozenset({"TOKENIZERS_PARALLELISM", "HF_HUB_DISABLE_IMPLICIT_TOKEN"})


def words(name: str) -> list[str]:
    return [w for w in re.split(r"[^A-Za-z0-9]+", name.upper()) if w]


def looks_secret(name: str) -> bool:
    upper = name.upper()
    if upper in SAFE_NAMES:
        return False
    parts = words(upper)
    if not parts:
        return False
    return any(part in SECRET_WORDS for part in parts) or parts[-1] == "KEY" or parts[-1].endswith("APIKEY")
