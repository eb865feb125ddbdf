"""diff between locks and images, and the CycloneDX SBOM of a saved image (cyclonedx-py for real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.render.lockfile import parse
from dockyard.supply.diff import compare, image_side, is_lock, lock_side
from dockyard.supply.sbom import _epoch, roots, sbom_of_archive

from .conftest import LOCK_TEXT, SITE, ArchiveMaker, FakeFile, FakeLayer, record_line

METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: MIT\nSummary: test package\n"


def dist(name: str, version: str, module: bytes = b"x = 1\n") -> list[FakeFile]:
    folder = f"{SITE}/{name}-{version}.dist-info"
    record = "\n".join([record_line(f"{name}/__init__.py", module), f"{name}-{version}.dist-info/METADATA,,"])
    return [FakeFile(f"{SITE}/{name}/__init__.py", module),
            FakeFile(f"{folder}/METADATA", METADATA.format(name=name, version=version).encode()),
            FakeFile(f"{folder}/RECORD", record.encode())]


def test_two_locks_differ_by_version_hash_and_presence() -> None:
    a = parse(LOCK_TEXT, "a")
    torch_entry = "torch==2.13.0+cpu \\\n    --hash=sha256:" + "3" * 64 + "\n"
    six_entry = "six==1.17.0 \\\n    --hash=sha256:" + "3" * 64 + "\n"
    b_text = (LOCK_TEXT.replace("transformers==5.24.0", "transformers==5.23.0").replace("2" * 64, "9" * 64)
              .replace(torch_entry, six_entry))
    report = compare(lock_side(a, "a"), lock_side(parse(b_text, "b"), "b"))
    changes = {c.name: (c.before, c.after, c.note) for c in report.changes}
    assert changes == {"transformers": ("5.24.0", "5.23.0", ""), "numpy": ("2.4.6", "2.4.6", "same version, "
                       "different hashes"), "torch": ("2.13.0+cpu", None, ""), "six": (None, "1.17.0", "")}
    assert not report.same and report.unchanged == 0
    same = compare(lock_side(a, "a"), lock_side(parse(a.format(), "a2"), "a2"))
    assert same.same and same.unchanged == 3


def test_an_image_against_a_lock_ignores_local_labels(make_archive: ArchiveMaker) -> None:
    archive = make_archive([FakeLayer([*dist("numpy", "2.4.6"), *dist("torch", "2.13.0"),
                                       *dist("transformers", "5.24.0")])])
    image = image_side(archive, "img")
    assert image.versions == {"numpy": "2.4.6", "torch": "2.13.0", "transformers": "5.24.0"}
    assert image.total and image.sizes["numpy"] > 0
    report = compare(lock_side(parse(LOCK_TEXT, "x"), "x"), image)
    assert report.same, report.changes


def test_two_images_show_size_changes_of_the_same_version(make_archive: ArchiveMaker) -> None:
    small = image_side(make_archive([FakeLayer(dist("torch", "2.13.0"))], name="a.tar"), "a")
    big = image_side(make_archive([FakeLayer(dist("torch", "2.13.0", b"#" * 500_000))], name="b.tar"), "b")
    report = compare(small, big)
    assert [(c.name, c.note) for c in report.changes] == [("torch", "same version, different size")]
    assert report.to_json()["b"]["size"] > report.to_json()["a"]["size"]


def test_lock_files_are_recognised_by_their_first_line(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(LOCK_TEXT)
    other = tmp_path / "requirements.txt"
    other.write_text("numpy==1\n")
    assert is_lock(str(lock)) and not is_lock(str(other)) and not is_lock("dockyard/cpu-inference:latest")


def test_sbom_of_a_saved_image_lists_the_venv_packages(make_archive: ArchiveMaker) -> None:
    pytest.importorskip("cyclonedx_py")
    system = [FakeFile("/usr/lib/python3/dist-packages/distro-1.8.0.dist-info/METADATA",
                       METADATA.format(name="distro", version="1.8.0").encode())]
    archive = make_archive([FakeLayer(system), FakeLayer([*dist("numpy", "2.4.6"), *dist("torch", "2.13.0")])],
                           {"config": {"Env": ["VIRTUAL_ENV=/opt/venv"],
                                       "Labels": {"dev.dockyard.spec-digest": "sha256:abc", "other": "x"}}})
    bom = sbom_of_archive(archive, "test/image:latest", "sha256:feed")
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert sorted((c["name"], c["version"]) for c in bom["components"]) == [("numpy", "2.4.6"), ("torch", "2.13.0")]
    assert {c["purl"] for c in bom["components"]} == {"pkg:pypi/numpy@2.4.6", "pkg:pypi/torch@2.13.0"}
    root = bom["metadata"]["component"]
    assert root["type"] == "container" and root["version"] == "sha256:feed"
    assert {"name": "dockyard:label:dev.dockyard.spec-digest", "value": "sha256:abc"} in root["properties"]
    assert bom["metadata"]["timestamp"].startswith("2026-01-02T03:04:05"), "the image's time: reproducible"
    assert "dockyard-sbom-" not in json.dumps(bom), "no scratch paths"
    again = sbom_of_archive(archive, "test/image:latest", "sha256:feed")
    assert json.dumps(again, sort_keys=True) == json.dumps(bom, sort_keys=True)


def test_site_roots_prefer_the_virtualenv() -> None:
    files = {f"{SITE}/a-1.dist-info/METADATA": b"", "/usr/lib/python3/dist-packages/b-1.dist-info/METADATA": b""}
    assert roots(files, ["VIRTUAL_ENV=/opt/venv"]) == [SITE]
    assert roots(files, []) == sorted([SITE, "/usr/lib/python3/dist-packages"])
    assert _epoch("2026-01-02T03:04:05.123456789Z") == "1767323045" and _epoch("garbage") == "0"
