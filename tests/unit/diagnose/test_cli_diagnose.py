"""`dockyard doctor` and `dockyard explain` through the CLI: output, JSON and exit codes."""

from __future__ import annotations

import io
import json

import pytest
from diagnose_helpers import LOGS, Machine, gpu_machine, this_machine
from rich.console import Console

from dockyard.cli import diagnose as cli
from dockyard.cli import main
from dockyard.diagnose.doctor import Host
from dockyard.diagnose.explain import explain_log


def use_machine(monkeypatch: pytest.MonkeyPatch, machine: Machine) -> None:
    def host(network: bool = True) -> Host:
        made = machine.host()
        made.network = network
        return made
    monkeypatch.setattr(cli, "Host", host)


def test_doctor_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_machine(monkeypatch, this_machine())
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("docker", "buildkit", "podman", "engine", "disk", "registry", "proxy-ca", "resources",
                 "nvidia-driver", "rocm", "tpu", "intel-xpu"):
        assert name in out
    assert "fix:" in out and "0 failure(s)" in out


def test_doctor_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_machine(monkeypatch, gpu_machine("nvidia_smi_query_h100.csv", "nvidia_smi_h100.txt"))
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {c["name"]: c["status"] for c in data["checks"]}["nvidia-driver"] == "warn"
    assert data["facts"]["engine"]["mode"] == "buildx"


def test_doctor_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_machine(monkeypatch, gpu_machine("nvidia_smi_failed.txt", "nvidia_smi_failed.txt", query_code=9, smi_code=9))
    assert main(["doctor", "--offline"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_doctor_offline_flag_reaches_the_host(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    use_machine(monkeypatch, this_machine())
    assert main(["doctor", "--json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out)["facts"]["registry"]["reachable"] is None


def test_doctor_rejects_an_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "--backend", "kubernetes"])
    assert exit_info.value.code == 2


def test_explain_known(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(LOGS / "real/apt_missing.log")]) == 0
    out = capsys.readouterr().out
    assert "[apt-package-not-found]" in out and "libcudnn9-dev-cuda-12" in out
    assert "failed step: [2/2] RUN apt-get update" in out and "(exit code 100)" in out
    assert "fix" in out and "evidence" in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--json", str(LOGS / "hand/oom_flash_attn.buildx.log")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["known"] is True
    assert data["matches"][0]["id"] == "compiler-oom"
    assert data["matches"][0]["details"]["max_jobs"] == "16"
    assert data["failed_step"]["exit_code"] == 1


def test_explain_memory_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(LOGS / "real/oom_legacy.log")]) == 0
    assert "dockyard would use MAX_JOBS=" in capsys.readouterr().out


def test_explain_unknown_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((LOGS / "real/podman_unknown.log").read_bytes())))
    assert main(["explain", "-"]) == 1
    out = capsys.readouterr().out
    assert "no known failure signature matched" in out
    assert "last lines of the failing step" in out and "step failed" in out
    assert "exit code 7" in out


def test_explain_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "no/such/build.log"]) == 2
    err = capsys.readouterr().err
    assert "no such log file" in err and "Traceback" not in err


def test_print_explanation_for_build() -> None:
    console = Console(file=io.StringIO(), width=200)
    cli.print_explanation(explain_log((LOGS / "real/tls_cert.log").read_text()), console=console,
                          log_path="/tmp/build.log")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[tls-certificate]" in text and "--secret id=ca" in text and "full log: /tmp/build.log" in text


def test_explain_shows_dockyards_own_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(LOGS / "real/tls_cert.log")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "with dockyard: `dockyard build --ca-cert FILE`" in out
    assert "[build] table" in out, "brackets in a fix are printed, not taken as markup"


def test_explain_on_a_build_that_succeeded_says_so_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(LOGS / "real/success_buildkit.log")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the build succeeded: nothing to explain")
    assert "naming to docker.io/library/dockyard-diagtest-i24:success_buildkit done" in out
    assert "no known failure signature" not in out
    assert main(["explain", str(LOGS / "real/success_podman.log"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["succeeded"] is True and data["known"] is False and data["success"]["line"] > 0
