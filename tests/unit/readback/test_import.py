"""`dockyard import`: each of transformers' originals becomes a spec that `dockyard check` accepts, with every
item of it in the report (mapped to a key, or not with the reason); odd and hostile input gets a message
and exit 2, never a traceback."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import InputError
from dockyard.readback.importer import MAX_BYTES, import_file, import_text
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from ..conftest import CliRunner
from .conftest import REFERENCE, need_reference, reference_files

ORIGINALS = reference_files() or ["(reference folder absent)"]


@pytest.mark.parametrize("path", ORIGINALS)
def test_every_original_imports_to_a_spec_that_checks(path: str, tmp_path: Path, run_cli: CliRunner) -> None:
    need_reference()
    spec = tmp_path / "spec.toml"
    report = tmp_path / "report.json"
    result = run_cli(["import", str(REFERENCE / path), "-o", str(spec), "--report", str(report), "--json"])
    assert result.code == 0, result.err
    imported = import_file(REFERENCE / path)
    assert len(imported.rows) == len(imported.inventory.items), "every item of the original has a row"
    assert all(row.key or row.note for row in imported.rows)
    render(resolve(load(str(spec))))  # what `dockyard check` does
    assert run_cli(["check", str(spec)]).code == 0


def test_the_import_maps_what_knowledge_knows() -> None:
    need_reference()
    imported = import_file(REFERENCE / "transformers-pytorch-deepspeed-latest-gpu" / "Dockerfile")
    image = imported.image
    assert (image["target"], image["variant"], image["torch"]) == ("cuda", "cu126", "2.13.0")
    assert image["addons"] == ["deepspeed"] and image["gpu-archs"] == ["8.0", "8.6", "8.9", "9.0"]
    assert image["transformers"] == "main" and "deepspeed-testing" in image["extras"]
    notes = {row.item.name: row.note for row in imported.rows}
    assert "DS_BUILD_CPU_ADAM" in notes["deepspeed"]
    light = import_file(REFERENCE / "torch-light.dockerfile").image
    assert light["transformers-install"] == "dependencies" and light["profile"] == "ci"
    assert light["torch"] == "<=2.11.0" and {"audio", "video", "vision"} <= set(light["modalities"])


def test_what_cannot_resolve_is_taken_out_with_the_reason() -> None:
    imported = import_text(b"FROM python:3.9-slim\nRUN pip install torch==2.6.0 einops==0.8.2\n", "Dockerfile", "old")
    assert "python" not in imported.image and imported.image["packages"] == ["einops==0.8.2"]
    assert any(line.startswith("python = '3.9'") for line in imported.taken_out)
    row = next(r for r in imported.rows if r.item.kind == "python")
    assert row.key == "" and row.note.startswith("taken out:")


def test_secrets_are_refused_and_reported() -> None:
    imported = import_text(b"FROM python:3.12-slim\nENV HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123456789 MODE=fast\n",
                           "Dockerfile", "x")
    assert imported.image.get("env") == {"MODE": "fast"}
    assert any("looks like a secret" in r.note for r in imported.rows if r.item.name == "HF_TOKEN")


def test_requirements_files_beside_the_dockerfile_are_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("einops==0.8.2\n", encoding="utf-8")
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12-slim\nRUN --mount=type=bind,source=requirements.txt,target=/r.txt pip install -r /r.txt\n",
        encoding="utf-8")
    imported = import_file(tmp_path / "Dockerfile", "mine")
    assert imported.image["packages"] == ["einops==0.8.2"] and imported.image["name"] == "mine"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "no instructions"),
    (b"\x00\x01\x02ELF", "binary file"),
    (b"hello world\n", "FROM"),
    (b"RUN echo before from\n", "FROM"),
    (b"FROM python:3.12-slim\nRUN <<EOT\nunterminated\n", "not a Dockerfile"),
])
def test_text_that_is_not_a_dockerfile_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        import_text(data, "Dockerfile", "x")


def test_bad_paths_exit_2_with_a_message(tmp_path: Path, run_cli: CliRunner) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge"
    huge.write_bytes(b"FROM python:3.12-slim\n" + b"# x\n" * (MAX_BYTES // 4 + 1))
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)))
    for path, words in ((fifo, "not a regular file"), (tmp_path, "a folder"), (huge, "bytes; a Dockerfile"),
                        (binary, "binary"), (tmp_path / "missing", "no such file")):
        result = run_cli(["import", str(path)])
        assert result.code == 2 and words in result.err and "Traceback" not in result.err, (path, result.err)


def test_a_spec_file_not_written_by_import_is_never_replaced(tmp_path: Path, run_cli: CliRunner) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\n", encoding="utf-8")
    mine = tmp_path / "mine.toml"
    mine.write_text("[image]\ntarget = \"cpu\"\n", encoding="utf-8")
    result = run_cli(["import", str(dockerfile), "-o", str(mine)])
    assert result.code == 2 and "not written by `dockyard import`" in result.err
    assert mine.read_text(encoding="utf-8") == "[image]\ntarget = \"cpu\"\n"
    out = tmp_path / "out.toml"
    assert run_cli(["import", str(dockerfile), "-o", str(out)]).code == 0
    assert run_cli(["import", str(dockerfile), "-o", str(out)]).code == 0, "its own file it may rewrite"


_WORDS = st.sampled_from([
    "FROM python:3.12-slim", "FROM nvidia/cuda:12.6.3-devel-ubuntu22.04 AS b", "FROM b", "ARG X=1", "ARG Y",
    "ENV A=$X B=${Y:-z}", "RUN pip install torch==2.6.0 --index-url https://download.pytorch.org/whl/cu126",
    "RUN pip install accelerate 'timm>=1' -e ./transformers[dev]", "RUN apt-get install -y git curl",
    "RUN if [ \"$X\" = 1 ]; then pip install einops; else pip uninstall -y einops; fi",
    "COPY --from=b /opt/venv /opt/venv", "COPY . /src", "RUN git clone https://github.com/x/y && cd y && pip install .",
    "RUN <<EOT\npip install rich\nEOT", "USER 1000", "WORKDIR /w", "ENTRYPOINT [\"python\"]", "CMD x",
    "RUN conda install -y python=3.10 mkl", "RUN uv pip install --system ninja", "SHELL [\"bash\", \"-lc\"]",
    "RUN echo \"export V=torch\" >> ~/.profile", "RUN pip install $V", "LABEL a=b", "RUN \\\n  pip install a",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_WORDS, st.text(alphabet=string.printable, max_size=40)), max_size=12))
def test_generated_dockerfiles_never_end_in_a_traceback(lines: list[str]) -> None:
    try:
        imported = import_text("\n".join(lines).encode(), "Dockerfile", "generated")
    except InputError:
        return  # a clear refusal
    assert len(imported.rows) == len(imported.inventory.items)


def test_import_reads_standard_input_and_prints_json(run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json
    import sys

    text = b"FROM python:3.12-slim\nRUN pip install --no-cache-dir einops==0.8.2 && apt-get install -y git\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    result = run_cli(["import", "-", "--json", "--name", "from-stdin"])
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["spec"]["image"]["name"] == "from-stdin"
    assert data["spec"]["image"]["packages"] == ["einops==0.8.2"]
    assert {row["item"]: row["key"] for row in data["report"]}["git"] == "system-packages"
    assert "items:" in result.err
