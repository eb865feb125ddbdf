"""Find secrets in bytes: known token formats, private keys, and values the user names.

A finding never carries the secret: only its kind, where it is, and a redacted hint (the public prefix
of the format and the length). Values given by the user are searched as they are; a PEM bundle given
as a value is split into its certificates and keys, and each is searched by a 64-character line of its
body, so a bundle re-wrapped into another file is still found. Certificates that the image's own
ca-certificates package ships (/usr/share/ca-certificates) are public and are not searched for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# (kind, pattern, public prefix shown in findings, random body: needs a digit, an upper and a lower case
# letter, which tells a base62 token from a symbol name). Patterns start with a literal so `re` scans fast.
TOKEN_FORMATS: tuple[tuple[str, re.Pattern[bytes], str, bool], ...] = tuple(
    (kind, re.compile(pattern), prefix, random) for kind, pattern, prefix, random in (
        ("Hugging Face token", rb"hf_[A-Za-z0-9]{34}(?![A-Za-z0-9_])", "hf_", True),
        ("GitHub token", rb"gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", "gh?_", True),
        ("GitHub fine-grained token", rb"github_pat_[A-Za-z0-9_]{82}(?![A-Za-z0-9_])", "github_pat_", True),
        ("AWS access key id", rb"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])", "AKIA", False),
        ("private key", rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
                        rb"\r?\n(?:[A-Za-z-]+: [^\r\n]*\r?\n)*\r?\n?(?:[A-Za-z0-9+/=]{40,80}\r?\n){2,}", "-----BEGIN",
         False),
        ("Slack token", rb"xox[baprs]-[0-9]{8,}-[A-Za-z0-9-]{8,}", "xox", False),
        ("Google API key", rb"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", "AIza", False),
        ("GitLab token", rb"glpat-[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])", "glpat-", False),
        ("npm token", rb"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", "npm_", True),
        ("PyPI token", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", "pypi-", False),
        ("OpenAI key", rb"sk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}", "sk-", False),
    )
)
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
CREDENTIAL_FILES = (".netrc", ".git-credentials", ".pypirc", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
                    ".aws/credentials", ".docker/config.json", "huggingface/token", ".huggingface/token")
MIN_VALUE = 8  # shorter values would match by chance


@dataclass(frozen=True)
class Needle:
    """A value to search for; `label` names it in findings (never the value)."""

    label: str
    data: bytes


@dataclass(frozen=True)
class Finding:
    kind: str  # a token format, "private key", "given value", "credential file", "secret-looking env"
    where: str  # "layer 3 /home/x/.netrc", "config Env", "history step 7"
    hint: str = ""  # redacted: prefix and length, or the label of a given value
    note: str = ""  # e.g. "deleted in a later layer: still in the image"
    owner: str = ""  # the package whose published hash the file has: public content, not a leak

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "hint": self.hint, "note": self.note, "owner": self.owner}


def pem_bodies(text: str) -> list[tuple[str, str]]:
    """(type, body without whitespace) of every PEM block in text."""
    return [(kind, re.sub(r"\s+", "", body)) for kind, body in PEM_BLOCK.findall(text)]


def needles_from_value(value: str, label: str, public: frozenset[str] = frozenset()) -> list[Needle]:
    """One needle for a plain value; for PEM text one per block (a middle line of its body)."""
    blocks = pem_bodies(value)
    if not blocks:
        data = value.strip().encode()
        return [Needle(label, data)] if len(data) >= MIN_VALUE else []
    needles = []
    for number, (kind, body) in enumerate(blocks, 1):
        if body in public:
            continue
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        full = [line for line in lines if len(line) == 64]
        middle = full[len(full) // 2] if full else body
        needles.append(Needle(f"{label} ({kind.lower()} {number} of {len(blocks)})", middle.encode()))
    return needles


def certificate_bodies(pem: bytes) -> set[str]:
    """Bodies of the certificates in a PEM file (to tell public CAs from a private one)."""
    return {body for kind, body in pem_bodies(pem.decode("ascii", "replace")) if kind == "CERTIFICATE"}


def redact(match: bytes, prefix: str) -> str:
    return f"{prefix}… ({len(match)} characters)"


def scan_bytes(data: bytes, needles: Iterable[Needle], formats: bool = True) -> Iterator[tuple[str, str]]:
    """(kind, hint) for every token format (unless `formats` is False) and needle found in data (each kind or
    needle once)."""
    for kind, pattern, prefix, random in TOKEN_FORMATS if formats else ():
        for found in pattern.finditer(data):
            text = found.group(0)
            before = data[found.start() - 1:found.start()] if found.start() else b""
            if before.isalnum() or before == b"_":
                continue  # inside a longer word (a symbol such as _ZN6hf_xet...)
            if _placeholder(text) or (random and not _looks_random(text[len(prefix):])):
                continue
            yield kind, redact(text, prefix if kind != "private key" else text.splitlines()[0].decode())
            break
    for needle in needles:
        if needle.data in data:
            yield "given value", needle.label


def _looks_random(body: bytes) -> bool:
    return any(c in b"0123456789" for c in body) and body.lower() != body and body.upper() != body


def _placeholder(token: bytes) -> bool:
    """Documentation placeholders such as hf_xxxxxxxx... or AKIAIOSFODNN7EXAMPLE are not secrets."""
    body = token.split(b"_", 1)[-1] if b"_" in token[:12] else token[4:]
    return len(set(body)) <= 3 or b"EXAMPLE" in token or body.lower().startswith(b"xxxx")


class StreamScanner:
    """Scan a file read in chunks: each chunk is searched with the tail of the previous one in front,
    so a match that straddles two chunks is found."""

    OVERLAP = 8192

    def __init__(self, needles: Iterable[Needle], formats: bool = True) -> None:
        self.needles = tuple(needles)
        self.formats = formats
        self.found: dict[tuple[str, str], None] = {}
        self.tail = b""
        self.overlap = max([self.OVERLAP, *(len(n.data) for n in self.needles)])

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        for item in scan_bytes(data, self.needles, self.formats):
            self.found.setdefault(item)
        self.tail = data[-self.overlap:]

    def results(self) -> list[tuple[str, str]]:
        return list(self.found)


def is_credential_file(path: str) -> bool:
    return any(path == f"/{name}" or path.endswith(f"/{name}") for name in CREDENTIAL_FILES)


def redact_text(text: str, needles: Iterable[Needle]) -> str:
    """text with every token-shaped string and given value replaced by ***, to show where a secret was."""
    data = text.encode()
    for _, pattern, _, _ in TOKEN_FORMATS:
        data = pattern.sub(b"***", data)
    for needle in needles:
        data = data.replace(needle.data, b"***")
    return data.decode("utf-8", "replace")
