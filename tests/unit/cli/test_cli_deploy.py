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
    (path.parent / "model" / "model.safetensors").write_bytes(b"\0" * 1_000_000)
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
    assert sorted(p.name for p in out.iterdir()) == [".dockyard-files", "deployment.yaml", "hpa.yaml",
                                                     "networkpolicy.yaml", "pdb.yaml",
                                                     "service.yaml"]
    pod = yaml.safe_load((out / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["containers"][0]["image"] == "registry.local/tiny:1"
    assert pod["containers"][0]["imagePullPolicy"] == "Always", "a tag may move"
    assert "registry.local/tiny:1 is a tag, not a digest" in result.err.replace("\n", " ")
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    # 1 MB x 1.2 + 2048 MiB (cuda's runtime) -> 3 GiB, + 1 GiB /dev/shm
    assert "memory 4Gi: weights" in result.err.replace("\n", " "), "sized from the model folder, said how"
    assert run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out)]).code == 0
    assert sorted(p.name for p in out.iterdir()) == [".dockyard-files", "deployment.yaml", "networkpolicy.yaml",
                                                     "service.yaml"], \
        "dropped HPA/PDB removed"


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
    (["--to", "compose", "--namespace", "x"], "--namespace applies to --to kubernetes"),
    (["--to", "kubernetes", "--prometheus", "http://p:9090"], "--prometheus goes with --autoscale keda"),
    (["--to", "kubernetes", "--autoscale", "keda", "--hpa-max", "3"], "--autoscale keda needs --prometheus URL"),
    (["--to", "kubernetes", "--autoscale", "keda", "--hpa-max", "3", "--prometheus", "ftp://x"], "not an http(s) URL"),
    (["--to", "kubernetes", "--autoscale", "keda", "--hpa-max", "3", "--prometheus", "http://p", "--hpa-cpu", "50"],
     "--hpa-cpu goes with the CPU autoscaler"),
    (["--to", "kserve", "--pdb", "1", "--replicas", "2"], "--pdb applies to --to kubernetes, not --to kserve"),
    (["--to", "kubernetes", "--pull-secret", "Bad_Name"], "--pull-secret 'Bad_Name': not a DNS-1123 subdomain"),
    (["--to", "kubernetes", "--memory", "4 GB"], "--memory '4 GB': not a Kubernetes quantity"),
    (["--to", "kubernetes", "--registry", "https://ghcr.io/acme"], "is not a registry"),
    (["--to", "kubernetes", "--hf-token-secret", "hf"], "nothing is downloaded at start"),
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
    (["--set", "dtype=float8"], "--set dtype=float8: unknown value"),
    (["--set", "port=9000"], "--set 'port': not a run-time setting"),
    (["--set", "api-key=sk-0123456789abcdefghij"], "not env:NAME or file:/PATH"),
])
def test_up_bad_options(run_cli: CliRunner, spec: Path, args: list[str], message: str) -> None:
    result = run_cli(["up", str(spec), *args])
    assert result.code == 2 and message in result.err, result.err


def test_up_missing_model_folder(run_cli: CliRunner, write_spec: SpecWriter) -> None:
    spec = write_spec(SERVE.format(model="mount:/models/tiny"), "mount.toml")
    result = run_cli(["up", str(spec), "--model-dir", "/no/such/folder"])
    assert result.code == 2 and "--model-dir /no/such/folder: no such folder" in result.err


DIGEST = "sha256:" + "c0" * 32


def test_registry_names_the_pushed_digest(run_cli: CliRunner, spec: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`dockyard push` records REGISTRY/NAME:TAG's digest; deploy --registry names it by that digest."""
    from dockyard.cli.deploy import deployment_for
    from dockyard.deploy.registry import record

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    deployment = deployment_for(str(spec))
    out = tmp_path / "k8s"
    unpinned = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out), "--registry", "127.0.0.1:5000/team",
                        "--pull-secret", "registry-login"])
    assert unpinned.code == 0, unpinned.err
    tag = f"127.0.0.1:5000/team/tiny-chat:{deployment.version}"
    assert f"no digest known for {tag}" in unpinned.err.replace("\n", " ")
    text = (out / "deployment.yaml").read_text()
    assert f"# note: no digest known for {tag}" in text, "the file itself says it is not pinned"
    record(tmp_path / "state" / "dockyard" / "pushed.json", tag, DIGEST, "sha256:local")
    pinned = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out), "--registry", "127.0.0.1:5000/team",
                      "--pull-secret", "registry-login"])
    assert pinned.code == 0, pinned.err
    pod = yaml.safe_load((out / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == f"127.0.0.1:5000/team/tiny-chat@{DIGEST}"
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert "pinned by digest" in pinned.err and "no digest known" not in pinned.err
    compose = run_cli(["deploy", str(spec), "--to", "compose", "-o", str(tmp_path / "c"), "--registry",
                       "127.0.0.1:5000/team"])
    assert yaml.safe_load((tmp_path / "c" / "compose.yaml").read_text())["services"]["tiny-chat"]["image"] == \
        f"127.0.0.1:5000/team/tiny-chat@{DIGEST}", compose.err


def test_kserve_and_keda_files(run_cli: CliRunner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "kserve"
    result = run_cli(["deploy", str(spec), "--to", "kserve", "-o", str(out), "--namespace", "models", "--replicas",
                      "2", "--hpa-max", "4", "--autoscale", "keda", "--prometheus", "http://prometheus.monitoring:9090",
                      "--in-flight", "8"])
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [".dockyard-files", "inferenceservice.yaml", "networkpolicy.yaml"]
    predictor = yaml.safe_load((out / "inferenceservice.yaml").read_text())["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 4)
    assert predictor["autoScaling"]["metrics"][0]["external"]["target"] == {"type": "Value", "value": "8"}
    keda = tmp_path / "keda"
    result = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(keda), "--hpa-max", "4", "--autoscale",
                      "keda", "--prometheus", "http://prometheus.monitoring:9090"])
    assert result.code == 0, result.err
    assert sorted(p.name for p in keda.iterdir()) == [".dockyard-files", "deployment.yaml", "networkpolicy.yaml",
                                                      "scaledobject.yaml", "service.yaml"]


def test_hub_model_sized_from_the_hub(run_cli: CliRunner, write_spec: SpecWriter, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub: model fetched at start: the Hub's file list sizes the pod and the model's claim."""
    from ..hubdata import hub_with_weights

    spec = write_spec(SERVE.format(model="hub:org/big@" + "b" * 40) + 'fetch = "start"\n', "hub.toml")
    out = tmp_path / "k8s"
    with hub_with_weights(tmp_path / "hub", "org/big", "b" * 40, 6 * 2**30, "bfloat16") as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        result = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(out)])
    assert result.code == 0, result.err
    assert "the Hub's file list of org/big" in result.err.replace("\n", " ")
    container = yaml.safe_load((out / "deployment.yaml").read_text())["spec"]["template"]["spec"]["containers"][0]
    # 6 GiB x 1 x 1.2 + 2 GiB (cuda's runtime) = 9.2 GiB -> 10 GiB, + 1 GiB /dev/shm
    assert container["resources"]["limits"]["memory"] == "11Gi"
    # the claim holds what the fetch downloads (not pytorch_model.bin): (6 GiB + 2 MB) x 1.1 + 1 GiB -> 8 GiB
    assert yaml.safe_load((out / "pvc.yaml").read_text())["spec"]["resources"]["requests"]["storage"] == "8Gi"
    offline = run_cli(["deploy", str(spec), "--to", "kubernetes", "-o", str(tmp_path / "offline"), "--hf-endpoint",
                       "http://127.0.0.1:9"])
    assert offline.code == 0 and "did not answer" in offline.err and "give --memory" in offline.err.replace("\n", " ")


def test_help_names_the_options(run_cli: CliRunner, capsys: pytest.CaptureFixture[str]) -> None:
    for command, options in (("deploy", ("--to", "--replicas", "--hpa-max", "--pdb", "--model-volume", "--registry",
                                          "--pull-secret", "--namespace", "--autoscale", "--prometheus",
                                          "--hf-token-secret", "--runtime-class", "kserve")),
                             ("push", ("--registry", "--backend")),
                             ("up", ("--port", "--timeout", "--no-build", "--set", "--api-key")),
                             ("down", ("--volumes",))):
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
