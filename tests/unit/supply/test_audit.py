"""audit on a synthetic saved image: merged file system with whiteouts, sizes by layer, directory,
package and kind, compilers, setuid files added to the base, secrets in deleted files, in the config and
in the history, public package content told apart by its published hash, entrypoint and init."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.supply.archive import normal, read_archive
from dockyard.supply.audit import AuditReport, audit_archive
from dockyard.supply.layout import category
from dockyard.supply.scan import needles_from_value

from .conftest import FAKE_TOKEN, SITE, ArchiveMaker, FakeFile, FakeLayer, record_line

TORCH_INIT = b"import os\n" * 1000
SHIPPED = f"TEST_TOKEN = '{FAKE_TOKEN[:-1]}Z'\n".encode()  # a token a package publishes (like transformers')


def base_layer() -> FakeLayer:
    return FakeLayer([
        FakeFile("/usr/bin/python3.11", b"\x7fELF" + b"p" * 5000, 0o755),
        FakeFile("/usr/bin/su", b"\x7fELF" + b"s" * 100, 0o4755),
        FakeFile("/usr/share/doc/python3/copyright", b"d" * 2000),
        FakeFile("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    ], "")


def app_layers() -> list[FakeLayer]:
    record = "\n".join([record_line("torch/__init__.py", TORCH_INIT), record_line("torch/testing_utils.py", SHIPPED),
                        "torch-2.13.0+cpu.dist-info/RECORD,,"])
    return [
        FakeLayer([FakeFile("/usr/bin/gcc-12", b"\x7fELF" + b"g" * 3000, 0o755),
                   FakeFile("/usr/bin/gcc", kind="symlink", link="gcc-12"),
                   FakeFile("/usr/bin/newuidmap", b"\x7fELF" + b"n" * 50, 0o4755),
                   FakeFile("/root/.netrc", f"machine hub password {FAKE_TOKEN}\n".encode(), 0o600),
                   FakeFile("/var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", b"l" * 3_000_000)],
                  "/bin/sh -c apt-get install -y gcc"),
        FakeLayer([FakeFile("/root/.wh..netrc"), FakeFile(f"{SITE}/torch/__init__.py", TORCH_INIT),
                   FakeFile(f"{SITE}/torch/__pycache__/__init__.cpython-311.pyc", b"c" * 4000),
                   FakeFile(f"{SITE}/torch/testing_utils.py", SHIPPED),
                   FakeFile(f"{SITE}/torch/include/ATen/ATen.h", b"h" * 1500),
                   FakeFile(f"{SITE}/torch-2.13.0+cpu.dist-info/RECORD", record.encode()),
                   FakeFile(f"{SITE}/numpy/tests/test_a.py", b"t" * 700),
                   FakeFile(f"{SITE}/six.py", b"s" * 300)],
                  "COPY /opt/venv /opt/venv # buildkit"),
    ]


def audit(make_archive: ArchiveMaker, **kwargs: object) -> AuditReport:
    config = kwargs.pop("config", None)
    path = make_archive([base_layer(), *app_layers()], config)
    return audit_archive(path, "test/image:latest", **kwargs)  # type: ignore[arg-type]


def test_whiteouts_delete_from_the_merged_file_system(make_archive: ArchiveMaker) -> None:
    image = read_archive(make_archive([base_layer(), *app_layers()]))
    merged = image.filesystem()
    assert "/root/.netrc" not in merged and "/usr/bin/su" in merged
    assert [layer.removed for layer in image.layers] == [[], [], ["/root/.netrc"]]
    assert normal("./.netrc") == "/.netrc" and normal("usr/bin/x") == "/usr/bin/x" and normal("./") == "/"


def test_sizes_by_layer_directory_package_and_kind(make_archive: ArchiveMaker) -> None:
    report = audit(make_archive)
    assert [layer["instruction"] for layer in report.layers][1:] == ["RUN apt-get install -y gcc",
                                                                     "COPY /opt/venv /opt/venv"]
    assert report.size == sum(layer["size"] for layer in report.layers)
    packages = {p.name: p for p in report.packages}
    assert packages["torch"].version == "2.13.0+cpu"
    record = next(f for f in app_layers()[1].files if f.path.endswith("RECORD"))
    assert packages["torch"].size == len(TORCH_INIT) + 4000 + len(SHIPPED) + 1500 + len(record.data)
    assert "(unowned) numpy" in packages and "(unowned) six.py" in packages
    assert report.categories["__pycache__"] == 4000 and report.categories["headers"] == 1500
    assert report.categories["tests"] == 700 and report.categories["docs"] == 2000
    assert report.categories["caches"] == 3_000_000
    assert dict(report.directories)["/opt/venv"] > 0


def test_compilers_setuid_added_and_checks(make_archive: ArchiveMaker) -> None:
    report = audit(make_archive, base_layers=1)
    assert report.compilers == ["/usr/bin/gcc", "/usr/bin/gcc-12"]
    added = {row["path"]: row["added"] for row in report.setuid}
    assert added == {"/usr/bin/su": False, "/usr/bin/newuidmap": True}
    status = {c.name: c.status for c in report.checks}
    assert status["user"] == "ok" and status["compilers"] == "warn" and status["package caches"] == "warn"
    assert status["setuid/setgid files added"] == "warn" and status["entrypoint"] == "ok"
    assert status["healthcheck"] == "info" and status["headers"] == "ok"
    unknown = audit(make_archive)
    assert {c.name: c.status for c in unknown.checks}["setuid/setgid files"] == "info"


def test_a_secret_in_a_deleted_file_is_still_found(make_archive: ArchiveMaker) -> None:
    report = audit(make_archive)
    leaks = [f for f in report.findings if not f.owner]
    kinds = {(f.kind, f.where) for f in leaks}
    assert ("Hugging Face token", "layer 1 /root/.netrc") in kinds
    assert ("credential file", "layer 1 /root/.netrc") in kinds
    assert all("still stored in the image" in f.note for f in leaks if "/root/.netrc" in f.where)
    assert not report.ok and {c.name: c.status for c in report.checks}["secrets"] == "fail"
    assert FAKE_TOKEN not in str(report.to_json()), "the report never carries the secret"


def test_package_content_that_matches_its_published_hash_is_public(make_archive: ArchiveMaker) -> None:
    report = audit(make_archive)
    shipped = [f for f in report.findings if f.where.endswith("torch/testing_utils.py")]
    assert len(shipped) == 1 and shipped[0].owner == "Python package torch 2.13.0+cpu"


def test_config_and_history_are_scanned(make_archive: ArchiveMaker) -> None:
    config = {"config": {"User": "", "Env": ["HF_TOKEN=abc", "TOKENIZERS_PARALLELISM=false"],
                         "Entrypoint": ["/bin/sh", "-c", "python app.py"]},
              "history": [{"created_by": ""}, {"created_by": f"RUN /bin/sh -c echo {FAKE_TOKEN}"},
                          {"created_by": "COPY x"}]}
    report = audit(make_archive, config=config, needles=tuple(needles_from_value("abcdefghij-value", "v")))
    where = {(f.kind, f.where.split(":")[0]) for f in report.findings}
    assert ("secret-looking environment variable", "config Env HF_TOKEN") in where
    assert ("Hugging Face token", "history step 2") in where
    assert FAKE_TOKEN[3:11] not in str(report.to_json()), "a history finding shows the step, redacted"
    assert not any("TOKENIZERS" in f.where for f in report.findings)
    status = {c.name: c.status for c in report.checks}
    assert status["user"] == "warn" and status["entrypoint"] == "warn"


def test_given_values_are_searched_everywhere(make_archive: ArchiveMaker) -> None:
    report = audit(make_archive, needles=tuple(needles_from_value("import os\nimport os", "--secret-value #1")))
    assert [f.where for f in report.findings if f.kind == "given value"] == [f"layer 2 {SITE}/torch/__init__.py"]


@pytest.mark.parametrize(("path", "kinds"), [
    ("/opt/venv/lib/python3.11/site-packages/torch/__pycache__/x.pyc", ["__pycache__"]),
    ("/home/dockyard/.cache/pip/http/abc", ["caches"]),
    ("/home/dockyard/.cache/huggingface/hub/x", []),
    ("/usr/include/stdio.h", ["headers"]),
    ("/usr/share/man/man1/ls.1.gz", ["docs"]),
    ("/opt/venv/lib/python3.11/site-packages/numpy/_core/tests/test_x.py", ["tests"]),
    ("/usr/lib/x86_64-linux-gnu/libfoo.a", ["static libraries"]),
    ("/var/cache/debconf/config.dat", []),
])
def test_kinds_of_files(path: str, kinds: list[str]) -> None:
    assert category(path) == kinds


def test_not_an_archive_is_an_input_error(tmp_path: Path) -> None:
    from dockyard.errors import InputError

    bogus = tmp_path / "x.tar"
    bogus.write_bytes(b"nope")
    with pytest.raises(InputError):
        read_archive(bogus)
