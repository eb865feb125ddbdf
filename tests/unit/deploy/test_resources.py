"""Pods sized from the model (knowledge/deploy.toml [resources]): a folder's weight files, the Hub's file
list, the dtype factor, headroom and runtime, /dev/shm inside the limit, the default when unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.resources import GIB, MIB, load_factor, pod_resources, quantity_bytes
from dockyard.deploy.weights import ModelSize, folder_size, hub_size
from dockyard.errors import InputError
from dockyard.knowledge.deploy import sizing

from ..hubdata import hub_with_weights

PATTERNS = sizing().weight_files


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)


def test_folder_counts_the_format_transformers_loads(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"torch_dtype": "bfloat16"}')
    sparse(tmp_path / "model-00001-of-00002.safetensors", 3 * GIB)
    sparse(tmp_path / "model-00002-of-00002.safetensors", 1 * GIB)
    sparse(tmp_path / "pytorch_model.bin", 8 * GIB)  # left over: transformers prefers safetensors
    sparse(tmp_path / ".git" / "objects" / "pack", 5 * GIB)  # hidden folders are not the model
    size = folder_size(tmp_path, PATTERNS)
    assert size.weights == 4 * GIB and size.stored_dtype == "bfloat16"
    assert size.files == 12 * GIB + len('{"torch_dtype": "bfloat16"}')


def test_folder_without_safetensors_counts_bin(tmp_path: Path) -> None:
    sparse(tmp_path / "pytorch_model.bin", 2 * GIB)
    (tmp_path / "config.json").write_text("[not json")
    size = folder_size(tmp_path, PATTERNS)
    assert size.weights == 2 * GIB and size.stored_dtype is None


@pytest.mark.parametrize(("stored", "dtype", "quantization", "factor"), [
    ("bfloat16", None, None, 1.0), ("bfloat16", "float32", None, 2.0), ("float32", "bfloat16", None, 0.5),
    ("bfloat16", "auto", None, 1.0), (None, "float32", None, 1.0), ("bfloat16", None, "bnb-4bit", 0.25),
    ("float32", None, "bnb-8bit", 0.25),
])
def test_load_factor(stored: str | None, dtype: str | None, quantization: str | None, factor: float) -> None:
    assert load_factor(stored, dtype, quantization, sizing()) == factor


def test_memory_formula_and_its_note() -> None:
    size = ModelSize(weights=10 * GIB, files=11 * GIB, stored_dtype="bfloat16", source="the files of m")
    sized = pod_resources(size, None, None, "1Gi", sizing(), runtime_mib=1536)
    # 10 GiB x 1 x 1.2 + 1536 MiB = 13.5 GiB -> 14 GiB, + 1 GiB /dev/shm
    assert sized.memory == "15Gi"
    assert sized.model_volume == "14Gi", "11 GiB x 1.1 + 1 GiB = 13.1 -> 14"
    assert sized.tmp == "1Gi" and sized.cache == "2Gi" and sized.ephemeral == "3Gi"
    assert "weights 10.00 GiB (the files of m) x 1 " in sized.notes[0] and "--memory overrides" in sized.notes[0]
    assert "+ runtime 1536 MiB" in sized.notes[0]


def test_memory_option_and_unknown_size() -> None:
    given = pod_resources(None, None, None, "", sizing(), cpu="2", memory="48Gi")
    assert (given.memory, given.cpu) == ("48Gi", "2")
    unknown = pod_resources(None, None, None, "1Gi", sizing(), why_unknown="a mount: model is not read")
    assert unknown.memory == "5Gi" and "a mount: model is not read" in unknown.notes[0]
    assert "give --memory" in unknown.notes[0] and unknown.model_volume == "50Gi"


@pytest.mark.parametrize("value", ["4 GB", "lots", "-1Gi", ""])
def test_bad_memory(value: str) -> None:
    with pytest.raises(InputError, match="not a Kubernetes quantity"):
        pod_resources(None, None, None, "", sizing(), memory=value)


def test_quantities() -> None:
    assert quantity_bytes("512Mi", "x") == 512 * MIB and quantity_bytes("20G", "x") == 20 * 10**9
    assert quantity_bytes("1073741824", "x") == GIB


def test_hub_size_from_the_file_list(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    token = "hf_" + "x" * 34
    with hub_with_weights(tmp_path, "org/m", "c" * 40, 7 * GIB, "float16", seen) as url:
        size, why = hub_size("org/m", "c" * 40, url, token, PATTERNS)
    assert why == "" and size is not None
    assert size.weights == 7 * GIB and size.stored_dtype == "float16"
    assert size.files == 7 * GIB + 600 + 2_000_000, "the fetch skips pytorch_model.bin: safetensors are there"
    assert all(auth == f"Bearer {token}" for _, auth in seen), "a gated model's token goes in the header"


def test_hub_that_does_not_answer(tmp_path: Path) -> None:
    with hub_with_weights(tmp_path, "org/m", "c" * 40, GIB, "float16") as url:
        size, why = hub_size("org/other", "c" * 40, url, "hf_" + "y" * 34, PATTERNS)
        assert size is None and "answered 404" in why and "hf_" not in why
    size, why = hub_size("org/m", None, "http://127.0.0.1:9", None, PATTERNS)
    assert size is None and "did not answer" in why
    size, why = hub_size("org/m", None, "file:///etc", None, PATTERNS)
    assert size is None and "not an http(s) URL" in why, "only the Hub's API, never a local file"


def test_the_fetch_script_skips_what_sizing_leaves_out() -> None:
    """render/files/hub_model.py runs in the image without dockyard: its weight preference is a copy of
    knowledge/deploy.toml's, kept equal here, and both leave out the same files."""
    import importlib.util

    from dockyard.deploy.weights import NEVER, fetched_bytes

    path = Path(__file__).parents[3] / "src" / "dockyard" / "render" / "files" / "hub_model.py"
    spec = importlib.util.spec_from_file_location("hub_model", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.WEIGHTS == PATTERNS and script.NEVER == NEVER
    names = {"model.safetensors": 10, "pytorch_model.bin": 20, "tf_model.h5": 40, "config.json": 1,
             "onnx/model.onnx": 80}
    assert sorted(script.skipped(list(names))) == sorted([*PATTERNS[1:], *NEVER])
    assert fetched_bytes(names, PATTERNS) == 10 + 1 + 80
    assert "*.safetensors" in script.skipped(["pytorch_model.bin"]), "no safetensors: the .bin files are kept"
