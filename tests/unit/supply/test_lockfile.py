"""The lock file format: parse and format round-trip, uv's own layout, what a lock refuses."""

from __future__ import annotations

import pytest

from dockyard.errors import InputError
from dockyard.render.lockfile import Locked, parse, requirements_text

from .conftest import LOCK_TEXT


def test_parse_reads_header_entries_hashes_and_via() -> None:
    lock = parse(LOCK_TEXT, "x.lock")
    assert lock.spec == "preset cpu-inference" and lock.spec_digest == "sha256:abc" and lock.python == "3.11"
    assert lock.torch_family == ("torch",) and lock.index == ("pypi https://pypi.org/simple",)
    assert [p.name for p in lock.packages] == ["numpy", "torch", "transformers"]
    assert lock.get("torch") == Locked("torch", "2.13.0+cpu", ("sha256:" + "3" * 64,), via=("spec", "accelerate"))
    numpy = lock.get("NumPy")
    assert numpy is not None and numpy.hashes == ("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    base = lock.base_image[0]
    assert (base.arg, base.name, base.used, base.ref) == ("BASE_IMAGE", "python:3.11-slim-bookworm",
                                                         "dockyard/bookworm-python:3.11", "sha256:1234")
    assert not base.is_digest


def test_format_round_trips_and_the_digest_ignores_comments() -> None:
    lock = parse(LOCK_TEXT, "x.lock")
    assert parse(lock.format(), "again") == lock
    commented = LOCK_TEXT.replace("# via transformers", "# via something else")
    assert parse(commented, "x").digest() == lock.digest()
    bumped = LOCK_TEXT.replace("numpy==2.4.6", "numpy==2.4.7")
    assert parse(bumped, "x").digest() != lock.digest()
    assert lock.versions() == {"numpy": "2.4.6", "torch": "2.13.0+cpu", "transformers": "5.24.0"}


def test_subsets_and_requirements_text_are_installable_parts() -> None:
    lock = parse(LOCK_TEXT, "x.lock")
    assert [p.name for p in lock.subset(("torch",))] == ["torch"]
    assert [p.name for p in lock.subset(("torch", "transformers"), keep=False)] == ["numpy"]
    text = requirements_text(lock.subset(("torch",)), "torch part")
    assert text == f"# torch part\ntorch==2.13.0+cpu \\\n    --hash=sha256:{'3' * 64}\n"


def test_url_requirements_keep_their_hash() -> None:
    text = LOCK_TEXT + "tf-src @ https://example.com/a.tar.gz \\\n    --hash=sha256:" + "5" * 64 + "\n"
    entry = parse(text, "x").get("tf-src")
    assert entry is not None and entry.url == "https://example.com/a.tar.gz" and entry.version == ""
    assert entry.requirement() == "tf-src @ https://example.com/a.tar.gz"


@pytest.mark.parametrize(("text", "message"), [
    ("numpy==1\n", "not a dockyard lock file"),
    ("# dockyard lock 1\n# python: 3.11\nnumpy==1\n", "no spec-digest"),
    (LOCK_TEXT + "numpy>=1\n", "not an exact pin"),
    (LOCK_TEXT + "--index-url https://evil.example/simple\n", "not allowed in a lock file"),
    (LOCK_TEXT + "numpy==2.4.6\n", "locked twice"),
    (LOCK_TEXT + "six==1 --hash=md5:abc\n", "not a sha256 hash"),
    (LOCK_TEXT.replace("# base-image: BASE_IMAGE python:3.11-slim-bookworm", "# base-image: BASE_IMAGE"),
     "is not 'ARG NAME USED REF'"),
])
def test_a_bad_lock_is_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse(text, "bad.lock")
    assert message in info.value.message and "bad.lock" in info.value.message
