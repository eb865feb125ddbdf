"""Secret scanning of bytes: token formats (and what only looks like one), private keys, given values and
PEM bundles, matches across read chunks, credential file names. Findings never carry the secret."""

from __future__ import annotations

import pytest

from dockyard.supply.scan import (
    Needle,
    StreamScanner,
    certificate_bodies,
    is_credential_file,
    needles_from_value,
    scan_bytes,
)

from .conftest import FAKE_TOKEN

KEY_BODY = "\n".join(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + "x" * 12] * 3)
PRIVATE_KEY = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n"
CERT_A = "\n".join(["MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ", "A" * 64, "B" * 64, "QUJD"])
CERT_B = "\n".join(["MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ", "C" * 64, "D" * 64, "REVG"])


def pem(body: str) -> str:
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("text", "kind"), [
    (f"token = {FAKE_TOKEN}\n", "Hugging Face token"),
    ("ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4", "GitHub token"),
    ("key AKIAZ2X3Y4W5V6U7T8S9\n", "AWS access key id"),
    (PRIVATE_KEY, "private key"),
    ("glpat-" + "a1B2c3D4e5F6g7H8i9J0", "GitLab token"),
])
def test_known_token_formats_are_found_and_redacted(text: str, kind: str) -> None:
    found = list(scan_bytes(text.encode(), ()))
    assert [k for k, _ in found] == [kind]
    hint = found[0][1]
    secret = max(text.split(), key=len)
    assert "characters" in hint and secret[8:] not in hint, "the secret is never shown"


@pytest.mark.parametrize("text", [
    "_ZN6hf_xet14PyXetTaskStateEE10initializeNCINvNt",  # a Rust symbol, not a token
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",  # a documentation placeholder
    "hf_abcdefghijklmnopqrstuvwxyzabcdefgh",  # no digits or capitals: not a random token
    "AKIAIOSFODNN7EXAMPLE",  # AWS's own example key
    "-----BEGIN PRIVATE KEY-----\\n",  # a format string in code, no key body
])
def test_what_only_looks_like_a_token_is_not_reported(text: str) -> None:
    assert list(scan_bytes(text.encode(), ())) == []


def test_given_values_and_pem_bundles_become_needles() -> None:
    assert needles_from_value("short", "v") == [], "too short to search without false matches"
    assert needles_from_value("  s3cr3t-value-123\n", "v") == [Needle("v", b"s3cr3t-value-123")]
    bundle = pem(CERT_A) + pem(CERT_B)
    needles = needles_from_value(bundle, "--secret-value @ca.pem")
    assert [n.label for n in needles] == ["--secret-value @ca.pem (certificate 1 of 2)",
                                          "--secret-value @ca.pem (certificate 2 of 2)"]
    assert needles[0].data == b"A" * 64 and needles[1].data == b"C" * 64, "a middle line of each body"
    rewrapped = pem(CERT_B).replace("\n", "\r\n").encode()
    assert list(scan_bytes(rewrapped, needles)) == [("given value", needles[1].label)]
    assert certificate_bodies(bundle.encode()) == {CERT_A.replace("\n", ""), CERT_B.replace("\n", "")}


def test_a_match_across_two_chunks_is_found_once() -> None:
    scanner = StreamScanner([Needle("v", b"needle-in-the-haystack")])
    scanner.feed(b"x" * 100_000 + b"needle-in-")
    scanner.feed(b"the-haystack" + b"y" * 100)
    scanner.feed(b"z" * 10_000)
    assert scanner.results() == [("given value", "v")]


def test_credential_files_are_known_by_name() -> None:
    assert is_credential_file("/root/.netrc") and is_credential_file("/home/a/.cache/huggingface/token")
    assert is_credential_file("/home/a/.docker/config.json") and is_credential_file("/root/.ssh/id_ed25519")
    assert not is_credential_file("/opt/venv/lib/python3.11/site-packages/tokenizers/__init__.py")
    assert not is_credential_file("/etc/netrc.example")
