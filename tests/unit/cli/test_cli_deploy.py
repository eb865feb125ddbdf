"""`dockyard deploy|up|down` argument handling: what they write, and every user mistake as exit 2 with
what is wrong and where, before any engine is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ..conftest import CliRunner, SpecWriter

SERVE = '[image]\nname = "tiny-chat"\ntarget = "cuda"\nprofile = "serve"\n\n[serve]\nmodel = "{model}"\n'


@pytest.fixture
def spec(write_spec: SpecWriter) -> Path:
    path = write_spec(SERVE.format(model="path:model"))
    (path.parent / "model").mkdir()
    (path.parent / "model" / "config.json").write_text('{"model_type": "llama"}')
    return path


def test_compose_files(run_cli: CliRunner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(["deploy", str(spec), "--to", "compose", "-o", str(out), "--bind", "0.0.0.0"])
    assert result.code == 0, result.err
    assert "compose.yaml" in result.out and "docker-compose -f" in result.err
    first = (out / "compose.yaml").read_text()
    service = yaml.safe_load(first)["services"]["tiny-chat"]
    assert service["ports"] == ["0.0.0.0:8000:8000"] and "deploy" in service
    assert run_cli(["deploy", str(spec), "--to", "compose", "-o", str(out), "--bind", "0.0.0.0"]).code == 0
    assert (out / "compose.yaml").read_text() == first, "deterministic"


def test_kubernetes_files(run_cli: CliRunner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out), "--replicas", "3", "--hpa-max", "6",
                      "--pdb", "2", "--node-selector", "pool=gpu", "--image", "registry.local/tiny:1",
                      "--accelerators", "2"])
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == ["deployment.yaml", "hpa.yaml", "pdb.yaml", "service.yaml"]
    pod = yaml.safe_load((out / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["containers"][0]["image"] == "registry.local/tiny:1"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out)]).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["deployment.yaml", "service.yaml"], "dropped HPA/PDB removed"


@pytest.mark.parametrize(("args", "message"), [
    (["--to", "compose", "--replicas", "2"], "--replicas applies to --to kubernetes"),
    (["--to", "kubernetes", "--bind", "0.0.0.0"], "--bind applies to --to compose"),
    (["--to", "kubernetes", "--node-selector", "pool"], "--node-selector 'pool' is not KEY=VALUE"),
    (["--to", "kubernetes", "--replicas", "1", "--pdb", "1"], "no node can ever be drained"),
    (["--to", "kubernetes", "--model-volume", "pvc:m"], "the model is baked into the image"),
    (["--to", "compose", "--host-port", "70000"], "--host-port 70000: out of range"),
    (["--to", "compose", "--model-dir", "."], "the model is baked into the image"),
    (["--to", "compose", "--accelerators", "0"], "--accelerators 0: must be 1 or more"),
    (["--to", "compose", "--start-timeout", "0"], "--start-timeout 0"),
])
def test_bad_options(run_cli: CliRunner, spec: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(["deploy", str(spec), "-o", str(tmp_path / "out"), *args])
    assert result.code == 2 and message in result.err.replace("\n", " "), result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "out").exists()


def test_refuses_a_foreign_file(run_cli: CliRunner, spec: Path, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    result = run_cli(["deploy", str(spec), "--to", "compose", "-o", str(tmp_path)])
    assert result.code == 2 and "not written by dockyard" in result.err
    assert (tmp_path / "compose.yaml").read_text() == "services: {}\n"


def test_mount_model_needs_a_volume(run_cli: CliRunner, write_spec: SpecWriter, tmp_path: Path) -> None:
    spec = write_spec(SERVE.format(model="mount:/models/tiny"), "mount.toml")
    result = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(tmp_path / "k")])
    assert result.code == 2 and "--model-volume pvc:CLAIM" in result.err
    result = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(tmp_path / "k"), "--model-volume",
                      "pvc:models"])
    assert result.code == 0, result.err


@pytest.mark.parametrize("command", ["deploy", "up", "down"])
def test_a_runtime_image_is_not_deployable(run_cli: CliRunner, command: str, tmp_path: Path) -> None:
    extra = ["--to", "compose", "-o", str(tmp_path)] if command == "deploy" else []
    result = run_cli([command, "cpu-inference", *extra])
    assert result.code == 2 and "only serve images can be deployed" in result.err and 'profile = "serve"' in result.err


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "0"], "--port 0: out of range"),
    (["--model-dir", "."], "the model is baked into the image"),
])
def test_up_bad_options(run_cli: CliRunner, spec: Path, args: list[str], message: str) -> None:
    result = run_cli(["up", str(spec), *args])
    assert result.code == 2 and message in result.err, result.err


def test_up_missing_model_folder(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    spec = write_spec(SERVE.format(model="mount:/models/tiny"), "mount.toml")
    result = run_cli(["up", str(spec), "--model-dir", "/no/such/folder"])
    assert result.code == 2 and "--model-dir /no/such/folder: no such folder" in result.err


def test_help_names_the_options(run_cli: CliRunner, capsys: pytest.CaptureFixture[str]) -> None:
    for command, options in (("deploy", ("--to", "--replicas", "--hpa-max", "--pdb", "--model-volume")),
                             ("up", ("--port", "--timeout", "--no-build")), ("down", ("--volumes",))):
        with pytest.raises(SystemExit):
            run_cli([command, "--help"])
        text = capsys.readouterr().out
        assert all(option in text for option in options), text


def test_up_says_it_built_the_tag_it_announced(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24: `up` announces dockyard/NAME:<spec digest> as missing; when the build is done it names that
    tag, not the first of the build's tags (dockyard/NAME:latest). Engine and build faked: the wording only."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from dockyard.cli import deploy, serving
    from dockyard.engine.detect import Capabilities, Engine
    from dockyard.engine.report import BuildReport

    deployment = deploy.deployment_for(str(spec))
    name, digest = deployment.image.split(":")
    report = BuildReport("tiny-chat", "sha256:0", [f"{name}:latest", deployment.image], 1_000_000, [], 0, 1, 2.0,
                         "/tmp/build.log", "docker")
    buffer = io.StringIO()
    monkeypatch.setattr(serving, "stderr", Console(file=buffer, width=200))
    monkeypatch.setattr(serving, "backend_for", lambda engine: SimpleNamespace(inspect=lambda image: None))
    monkeypatch.setattr(serving, "prepare_build", lambda *a: SimpleNamespace(plan=SimpleNamespace(name="tiny-chat"),
                                                                             warnings=[]))
    monkeypatch.setattr(serving, "run_build", lambda prepared, on_line: report)
    engine = Engine("docker", "/usr/bin/docker", "20.10", "20.10", "buildkit-env",
                    Capabilities(True, True, True, True, False, False))
    serving.build_if_missing(str(spec), deployment, engine, no_build=False, progress="plain")
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith(f"{deployment.image} is missing") and len(digest) == 12
    assert lines[-1].startswith(f"built {deployment.image} ")
