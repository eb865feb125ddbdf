"""The core commands: presets, show, check, render, schema (in-process, through `dockyard.cli.main`)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jsonschema
import pytest

from dockyard.knowledge.loader import preset_dir, preset_names
from dockyard.render.renderer import PACKAGED_SCRIPTS, packaged

from ..conftest import CliRunner, SpecWriter

PRESETS = preset_names()


@pytest.fixture
def no_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No site config: the plan shows the public names alone."""
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "none.toml"))
    for variable in ("DOCKYARD_BASE_MAP", "DOCKYARD_INDEX_MAP"):
        monkeypatch.delenv(variable, raising=False)


# -- presets -------------------------------------------------------------------------------------------

def test_presets_lists_every_preset(run_cli: CliRunner) -> None:
    result = run_cli(["presets"])  # captured, so not a terminal: one unindented line per preset
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "21 presets"
    listed = [line for line in lines[1:] if not line.startswith(" ")]
    assert listed == PRESETS
    assert len(PRESETS) == 21  # one per transformers image, cpu-inference and cpu-serve


def test_presets_json(run_cli: CliRunner) -> None:
    result = run_cli(["presets", "--json"])
    assert result.code == 0
    rows = json.loads(result.out)
    assert [row["name"] for row in rows] == PRESETS
    assert all(set(row) == {"name", "target", "profile", "torch", "description", "reproduces"} for row in rows)
    by_name = {row["name"]: row for row in rows}
    assert by_name["cpu-inference"]["target"] == "cpu"
    assert by_name["transformers-pytorch-deepspeed-nightly-gpu"]["torch"] == "nightly"
    assert all(row["description"] and row["reproduces"] for row in rows)


# -- show ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["cpu-inference", "transformers-pytorch-amd-gpu"])
def test_show_prints_the_preset_file(preset: str, run_cli: CliRunner) -> None:
    result = run_cli(["show", preset])
    assert result.code == 0
    assert result.out == (preset_dir() / f"{preset}.toml").read_text(encoding="utf-8")


def test_show_unknown_preset_suggests(run_cli: CliRunner) -> None:
    result = run_cli(["show", "cpu-inferance"])
    assert result.code == 2
    assert 'did you mean "cpu-inference"?' in result.err
    assert "Traceback" not in result.err


def test_show_refuses_a_spec_file(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    path = write_spec('[image]\ntarget = "cpu"\n')
    result = run_cli(["show", str(path)])
    assert result.code == 2
    assert "is a spec file, not a preset" in result.err


# -- check ---------------------------------------------------------------------------------------------

PLAN_KEYS = {"spec", "name", "target", "profile", "python", "torch", "transformers", "runtime_base", "builder_base",
             "distro", "compile", "gpu_archs", "packages", "addons", "system_packages", "build_packages", "env",
             "user", "uid", "slim", "bytecode", "warnings", "notes", "imports"}


@pytest.mark.parametrize("preset", PRESETS)
def test_check_json_is_the_plan(preset: str, run_cli: CliRunner) -> None:
    result = run_cli(["check", preset, "--json"])
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert set(plan) >= PLAN_KEYS
    assert plan["name"] == preset
    assert plan["spec"]["source"] == f"preset {preset}"
    assert plan["spec"]["digest"].startswith("sha256:")
    assert {"version", "variant", "index_url", "channel", "build"} <= set(plan["torch"])
    assert isinstance(plan["env"], dict)


def test_check_json_of_a_cuda_preset(run_cli: CliRunner) -> None:
    plan = json.loads(run_cli(["check", "transformers-pytorch-deepspeed-latest-gpu", "--json"]).out)
    assert (plan["torch"]["version"], plan["torch"]["variant"], plan["torch"]["cuda"]) == ("2.13.0", "cu126", "12.6")
    assert plan["torch"]["index_url"] == "https://download.pytorch.org/whl/cu126"
    assert plan["compile"] is True
    assert plan["builder_base"] == "nvidia/cuda:12.6.3-devel-ubuntu24.04"
    # runtime-toolchain: the CI job builds DeepSpeed's ops again, so the final image keeps nvcc
    assert plan["runtime_base"] == "nvidia/cuda:12.6.3-devel-ubuntu24.04"
    assert [a["name"] for a in plan["addons"]] == ["deepspeed"]
    plain = json.loads(run_cli(["check", "transformers-quantization-latest-gpu", "--json"]).out)
    assert plain["runtime_base"] == "nvidia/cuda:13.0.3-base-ubuntu24.04"


def test_check_prints_a_plan_table(run_cli: CliRunner, no_site: None) -> None:
    result = run_cli(["check", "cpu-inference"])
    assert result.code == 0
    for line in ("plan for cpu-inference (preset cpu-inference)", "base (final stage): python:3.11-slim-bookworm",
                 "torch: 2.13.0 cpu from https://download.pytorch.org/whl/cpu", "user: dockyard (uid 1000)"):
        assert line in result.out.splitlines()
    assert "5.25.0" in result.out
    assert result.err == ""


def test_check_shows_what_the_site_maps_use_with_the_public_name(run_cli: CliRunner, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[base-map]\n"python:3.11-slim-bookworm" = "local/base:1"\n\n[index-map]\n'
                      '"https://download.pytorch.org/whl/*" = "https://mirror.example/simple"\n')
    monkeypatch.setenv("DOCKYARD_CONFIG", str(config))
    lines = run_cli(["check", "cpu-inference"]).out.splitlines()
    assert "base (final stage): local/base:1 (public: python:3.11-slim-bookworm)" in lines
    assert "torch: 2.13.0 cpu from https://mirror.example/simple (public: https://download.pytorch.org/whl/cpu)" \
        in lines
    site = json.loads(run_cli(["check", "cpu-inference", "--json"]).out)["site"]
    assert site["base"] == {"public": "python:3.11-slim-bookworm", "used": "local/base:1"}
    assert site["torch index"] == {"public": "https://download.pytorch.org/whl/cpu",
                                   "used": "https://mirror.example/simple"}
    assert site["index"] == {"public": "https://pypi.org/simple", "used": "https://pypi.org/simple"}


def test_check_prints_warnings_and_notes_on_stderr(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    result = run_cli(["check", str(write_spec('[image]\ntarget = "cpu"\nuser = "root"\ntransformers = "main"\n'))])
    assert result.code == 0
    assert result.err.count("warning: ") == 2
    assert "note: transformers from a git ref" in result.err
    assert "warning:" not in result.out


def test_check_of_a_missing_file(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli(["check", str(tmp_path / "missing.toml")])
    assert result.code == 2
    assert "no such spec file" in result.err


def test_no_command_prints_help_and_exits_2(run_cli: CliRunner) -> None:
    result = run_cli([])
    assert result.code == 2
    assert "usage: dockyard" in result.out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from dockyard.cli import main

    with pytest.raises(SystemExit) as info:
        main(["chek", "cpu-inference"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- render --------------------------------------------------------------------------------------------

def test_render_to_stdout_prints_the_dockerfile(run_cli: CliRunner) -> None:
    result = run_cli(["render", "cpu-inference"])
    assert result.code == 0
    golden = Path(__file__).resolve().parents[2] / "golden" / "cpu-inference" / "Dockerfile"
    assert result.out.startswith("# cpu-inference: ")
    assert result.out == golden.read_text(encoding="utf-8")


def test_render_no_cache_mounts(run_cli: CliRunner) -> None:
    result = run_cli(["render", "cpu-inference", "--no-cache-mounts"])
    assert result.code == 0
    assert "type=cache" not in result.out
    assert "--no-cache-dir" in result.out


@pytest.mark.parametrize(
    ("preset", "has_requirements", "extra_scripts"),
    [("cpu-inference", False, ()), ("custom-tokenizers", True, ("build-jumanpp.sh",)),
     ("transformers-pytorch-deepspeed-latest-gpu", True, ())],
)
def test_render_to_a_folder_writes_the_build_context(preset: str, has_requirements: bool,
                                                    extra_scripts: tuple[str, ...], run_cli: CliRunner,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    result = run_cli(["render", preset, "-o", str(out)])
    assert result.code == 0, result.err
    assert "wrote" in result.err and str(out) in result.err
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    scripts = {f"dockyard/{n}" for n in ("fetch.sh", "python.sh", "user.sh", "slim.py", *extra_scripts)}
    expected = {"Dockerfile", ".dockerignore", "dockyard/probe.py", "dockyard/plan.json", ".dockyard-files", *scripts}
    if has_requirements:
        expected |= {"dockyard/requirements.txt", "dockyard/constraints-packages.txt"}
    assert files == expected
    assert (out / "wheels").is_dir() and not any((out / "wheels").iterdir())
    for name in scripts:
        if name.endswith(".sh"):
            assert (out / name).stat().st_mode & stat.S_IXUSR, f"{name} is executable"
        assert (out / name).read_text(encoding="utf-8") == packaged(name.removeprefix("dockyard/"))
    assert (out / "dockyard/probe.py").read_text(encoding="utf-8") == packaged("probe.py")
    plan = json.loads((out / "dockyard/plan.json").read_text(encoding="utf-8"))
    assert plan["name"] == preset
    assert (out / ".dockerignore").read_text(encoding="utf-8").splitlines()[0] == "**/__pycache__"
    assert (out / "Dockerfile").read_text(encoding="utf-8") == run_cli(["render", preset]).out


def test_render_copies_the_spec_files_into_app(run_cli: CliRunner, write_spec: SpecWriter, tmp_path: Path) -> None:
    (tmp_path / "serve.py").write_text("print('serving')\n", encoding="utf-8")
    spec = write_spec('[image]\ntarget = "cpu"\ntorch = "2.13"\nfiles = ["serve.py"]\n')
    out = tmp_path / "ctx"
    assert run_cli(["render", str(spec), "-o", str(out)]).code == 0
    assert (out / "app" / "serve.py").read_text(encoding="utf-8") == "print('serving')\n"


def test_render_refuses_missing_spec_files(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    spec = write_spec('[image]\ntarget = "cpu"\nfiles = ["missing.py"]\n')
    result = run_cli(["render", str(spec)])
    assert result.code == 2
    assert "[image].files: missing.py does not exist" in result.err


def test_render_refuses_an_impossible_spec(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    result = run_cli(["render", str(write_spec('[image]\ntarget = "cuda"\ntorch = "2.6"\nvariant = "cu130"\n'))])
    assert result.code == 2
    assert result.out == ""
    assert "has no wheel for variant cu130" in result.err


def test_packaged_scripts_exist() -> None:
    for name in PACKAGED_SCRIPTS:
        assert packaged(name)


# -- schema --------------------------------------------------------------------------------------------

def test_schema_prints_a_valid_json_schema(run_cli: CliRunner) -> None:
    result = run_cli(["schema"])
    assert result.code == 0
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "dockyard image spec"
    assert result.out == json.dumps(schema, indent=2, sort_keys=True) + "\n"
