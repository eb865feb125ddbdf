"""doctor's engine, host and network checks on recorded machines."""

from __future__ import annotations

import json

import pytest
from diagnose_helpers import GIB, Machine, add_docker, add_podman, fixture, meminfo, this_machine

from dockyard.diagnose.doctor import Report, TlsProbe, run_doctor
from dockyard.diagnose.host import memory_and_cores
from dockyard.errors import InputError

BUILDX = "github.com/docker/buildx v0.17.1 257815a"


def checks(report: Report) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in report.checks}


def test_this_machine_as_recorded() -> None:
    report = run_doctor(this_machine().host())
    found = checks(report)
    assert not report.failed
    assert found["docker"][0] == "ok"
    assert "/usr/local/bin/docker: client 28.2.2, server 20.10.24+dfsg1" in found["docker"][1]
    status, detail, fix = found["buildkit"]
    assert status == "warn"
    assert "/usr/bin/docker (client 20.10.24+dfsg1) builds with BuildKit through DOCKER_BUILDKIT=1" in detail
    assert "lacks named contexts, bake" in detail
    assert "/usr/local/bin/docker (client 28.2.2) has no buildx" in detail
    assert "buildx" in fix
    assert found["podman"][0] == "ok" and "podman 4.3.1 (Buildah 1.28.2)" in found["podman"][1]
    assert found["engine"] == ("ok", "--backend auto: docker 20.10.24+dfsg1 at /usr/bin/docker, server "
                               "20.10.24+dfsg1, builds with BuildKit through DOCKER_BUILDKIT=1", "")
    assert found["registry"][0] == "warn" and "docker load" in found["registry"][2]
    assert found["proxy-ca"][0] == "ok" and "intercepted" in found["proxy-ca"][1]
    assert "--secret id=ca" in found["proxy-ca"][2]
    assert found["resources"][0] == "ok"
    assert "24.0 GiB memory, 2 cores: MAX_JOBS=2" in found["resources"][1]
    assert "1 image build(s) at a time" in found["resources"][1]
    assert {found[n][0] for n in ("nvidia-driver", "nvidia-arch", "nvidia-runtime", "rocm", "tpu", "intel-xpu")} \
        == {"skip"}


def test_json_report_has_engine_facts() -> None:
    data = json.loads(json.dumps(run_doctor(this_machine().host()).to_dict()))
    engine = data["facts"]["engine"]
    assert engine["kind"] == "docker" and engine["mode"] == "buildkit-env"
    assert engine["env"] == {"DOCKER_BUILDKIT": "1"}
    assert engine["capabilities"] == {"buildkit": True, "cache_mounts": True, "secret_mounts": True,
                                      "bind_mounts": True, "named_contexts": False, "bake": False}
    assert [c["mode"] for c in data["facts"]["docker_clients"]] == ["legacy", "buildkit-env"]
    assert data["facts"]["host"] == {"mem_bytes": 24 * GIB, "mem_limited_by_cgroup": False, "cores": 2,
                                     "max_jobs": 2, "matrix_concurrency": 1}
    assert data["facts"]["registry"]["reachable"] is False
    assert data["facts"]["tls"]["intercepted"] is True
    assert data["ok"] is True and data["counts"]["fail"] == 0


def test_daemon_down_without_podman_fails_with_start_hint() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(16)})
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_down.json"),
               down_stderr=fixture("docker_version_down.stderr"))
    report = run_doctor(machine.host())
    found = checks(report)
    assert report.failed
    assert found["docker"][0] == "fail" and "Is the docker daemon running?" in found["docker"][1]
    assert "dockerd" in found["docker"][2]
    assert found["engine"][0] == "fail" and "does not answer" in found["engine"][1]
    assert found["buildkit"][0] == "skip"
    assert found["podman"][0] == "skip"


def test_daemon_down_falls_back_to_podman() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(16)})
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_down.json"),
               down_stderr=fixture("docker_version_down.stderr"))
    add_podman(machine)
    found = checks(run_doctor(machine.host()))
    assert found["docker"][0] == "warn"
    assert found["engine"][0] == "ok" and "podman 4.3.1" in found["engine"][1]
    assert found["disk"][0] == "ok"


def test_backend_podman_and_unknown_backend() -> None:
    report = run_doctor(this_machine().host(), backend="podman")
    assert report.facts.engine is not None and report.facts.engine.kind == "podman"
    assert report.facts.disk["path"] == "/var/lib/containers/storage"
    with pytest.raises(InputError):
        run_doctor(this_machine().host(), backend="kubernetes")


def test_buildx_host_has_every_feature() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(64)}, cores=16, registry_error="")
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_gpu.json"), buildx=BUILDX,
               info_json=fixture("docker_info_gpu.json"))
    found = checks(run_doctor(machine.host()))
    assert found["buildkit"][0] == "ok"
    assert "has cache mounts, secret mounts, bind mounts, named contexts, bake" in found["buildkit"][1]
    assert found["registry"] == ("ok", "registry-1.docker.io reachable", "")
    assert "MAX_JOBS=10" in found["resources"][1] and "8 image build(s)" in found["resources"][1]


def test_only_a_client_without_buildx_fails() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(16)})
    add_docker(machine, "/usr/local/bin/docker", fixture("docker_version_here_28.json"),
               info_json=fixture("docker_info_here.json"))
    found = checks(run_doctor(machine.host()))
    assert found["buildkit"][0] == "fail" and "legacy builder" in found["buildkit"][1]
    assert found["engine"][0] == "fail" and "has no BuildKit" in found["engine"][1]


@pytest.mark.parametrize(("free_gib", "status"), [(5, "fail"), (20, "warn"), (120, "ok")])
def test_disk_thresholds(free_gib: int, status: str) -> None:
    machine = this_machine()
    machine.disk = (free_gib * GIB, 500 * GIB)
    status_found, detail, fix = checks(run_doctor(machine.host()))["disk"]
    assert status_found == status
    assert f"{free_gib} GiB free in /var/lib/docker" in detail
    assert ("docker builder prune" in fix) == (status != "ok")


def test_proxy_credentials_are_masked() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(64)},
                      env={"HTTPS_PROXY": "http://alice:pa55@proxy.corp.example:3128", "NO_PROXY": "localhost"})
    add_docker(machine, "/usr/bin/docker", fixture("docker_version_gpu.json"), buildx=BUILDX,
               info_json=fixture("docker_info_gpu.json"))
    report = run_doctor(machine.host())
    text = json.dumps(report.to_dict())
    assert "pa55" not in text and "not-a-real-password" not in text
    assert report.facts.proxies["HTTPS_PROXY"] == "http://***@proxy.corp.example:3128"
    assert report.facts.proxies["dockerd HttpsProxy"] == "http://***@proxy.corp.example:3128"
    assert "proxy " in checks(report)["proxy-ca"][1]


@pytest.mark.parametrize(("tls", "env", "status", "words"), [
    (TlsProbe(True, True), {}, "warn", "intercepted"),
    (TlsProbe(True, True), {"PIP_CERT": "/etc/ca.pem"}, "ok", "CA bundle /etc/ca.pem (PIP_CERT)"),
    (TlsProbe(True, False), {}, "ok", "public certificate"),
    (TlsProbe(True, None), {}, "ok", "no public CA bundle"),
    (TlsProbe(False, None, "timed out"), {}, "warn", "not reachable (timed out)"),
    (TlsProbe(True, None, "the local CA bundle does not trust pypi.org: self-signed"), {}, "fail", "self-signed"),
])
def test_proxy_ca_check(tls: TlsProbe, env: dict[str, str], status: str, words: str) -> None:
    machine = this_machine()
    machine.tls, machine.env = tls, env
    found = checks(run_doctor(machine.host()))["proxy-ca"]
    assert found[0] == status and words in found[1]


def test_offline_skips_network_checks() -> None:
    machine = this_machine()
    machine.network = False
    found = checks(run_doctor(machine.host()))
    assert found["registry"][0] == "skip"
    assert found["proxy-ca"][0] == "ok" and "CA bundle" in found["proxy-ca"][1]
    assert not any(call[0] in ("curl", "wget") for call in machine.calls)


def test_cgroup_limits_memory_and_cores() -> None:
    machine = Machine(files={"/proc/meminfo": meminfo(256), "/sys/fs/cgroup/memory.max": "8589934592\n",
                             "/sys/fs/cgroup/cpu.max": "150000 100000\n"}, cores=64)
    assert memory_and_cores(machine.host()) == (8 * GIB, True, 1)
    machine.files = {"/proc/meminfo": meminfo(16), "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
                     "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"}
    machine.cores = 4
    assert memory_and_cores(machine.host()) == (16 * GIB, False, 4)


def test_small_machine_warns() -> None:
    machine = this_machine()
    machine.files["/proc/meminfo"] = meminfo(4)
    found = checks(run_doctor(machine.host()))["resources"]
    assert found[0] == "warn" and "MAX_JOBS=1" in found[1]
