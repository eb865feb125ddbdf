"""Argument handling of `dockyard build` without an engine: maps, secrets, backends' argv, the context."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.engine.backends import BuildRequest, DockerBackend, PodmanBackend, gpu_run_options, podman_ulimits
from dockyard.engine.context import fits_variant, link_wheelhouse, wheel_provides
from dockyard.engine.detect import Capabilities, Engine
from dockyard.engine.maps import load_maps, parse_rule, site_default
from dockyard.engine.secrets import Secret, collect, parse_secret
from dockyard.errors import InputError

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
BUILDKIT = Capabilities(True, True, True, True, named_contexts=False, bake=False)
BUILDX = Capabilities(True, True, True, True, named_contexts=True, bake=True)


def docker_engine(mode: str = "buildkit-env") -> Engine:
    caps = BUILDX if mode == "buildx" else BUILDKIT
    env = {"DOCKER_BUILDKIT": "1"} if mode == "buildkit-env" else {}
    return Engine("docker", "/usr/bin/docker", "20.10.24", "20.10.24", mode, caps, env)  # type: ignore[arg-type]


# -- maps --------------------------------------------------------------------------------------------

def test_base_map_exact_glob_and_prefix() -> None:
    maps = load_maps(["python:3.11-slim-bookworm=local/py:3.11", "nvidia/cuda:*=local/cuda", "nvcr.io/=mirror/nvcr/"],
                     [], env={"DOCKYARD_CONFIG": "/nonexistent"})
    assert maps.base_image("python:3.11-slim-bookworm") == "local/py:3.11"
    assert maps.base_image("nvidia/cuda:13.0.3-base-ubuntu24.04") == "local/cuda"
    assert maps.base_image("nvcr.io/nvidia/pytorch:25.01-py3") == "mirror/nvcr/nvidia/pytorch:25.01-py3"
    assert maps.base_image("ubuntu:24.04") == "ubuntu:24.04"


def test_later_rules_win_and_env_and_config_are_read(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[base-map]\n"ubuntu:24.04" = "from/config"\n[index-map]\n'
                      '"https://download.pytorch.org/whl/*" = "https://mirror.example/simple"\n'
                      '[build]\nwheelhouse = "/srv/wheels"\n')
    env = {"DOCKYARD_CONFIG": str(config), "DOCKYARD_BASE_MAP": "ubuntu:24.04=from/env"}
    maps = load_maps([], [], env=env)
    assert maps.base_image("ubuntu:24.04") == "from/env"
    assert maps.index_url("https://download.pytorch.org/whl/cu130") == "https://mirror.example/simple"
    assert maps.index_url("https://pypi.org/simple/") == "https://pypi.org/simple/"
    assert load_maps(["ubuntu:24.04=from/cli"], [], env=env).base_image("ubuntu:24.04") == "from/cli"
    assert site_default("wheelhouse", env) == "/srv/wheels"
    assert site_default("wheelhouse", {**env, "DOCKYARD_WHEELHOUSE": "/other"}) == "/other"
    assert site_default("ca-cert", env) is None


@pytest.mark.parametrize("text, fragment", [
    ("no-equals-sign", "is not FROM=TO"),
    ("=to", "empty side"),
    ("https://pypi.org/simple=https://user:secret@mirror.example/simple", "credentials"),
    ("https://pypi.org/simple=ftp://mirror", "not an index URL"),
])
def test_bad_index_rules_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_rule(text, "--index-map", "index")
    assert fragment in str(info.value)
    assert "secret" not in info.value.message or "credentials" in info.value.message


def test_unknown_config_table_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[bse-map]\n")
    with pytest.raises(InputError, match="unknown table"):
        load_maps([], [], env={"DOCKYARD_CONFIG": str(config)})


# -- secrets -------------------------------------------------------------------------------------------

def test_parse_secret_forms() -> None:
    assert parse_secret("id=hf,src=/tmp/token") == ("hf", "src", "/tmp/token")
    assert parse_secret("id=hf,env=HF_TOKEN") == ("hf", "env", "HF_TOKEN")
    for bad in ("hf", "id=hf", "id=hf,src=a,env=B", "id=bad id,env=X", "src=/x"):
        with pytest.raises(InputError):
            parse_secret(bad)


def test_env_secret_goes_to_a_private_file_that_is_removed(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    secrets = collect(["id=hf_token,env=FAKE_TOKEN"], str(ca), env={"FAKE_TOKEN": "hf_abcdefghijklmnop"})
    assert secrets.ids() == ["ca", "hf_token"]
    token_file = secrets.secrets[1].path
    assert token_file.read_text() == "hf_abcdefghijklmnop"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert secrets.scrub("token hf_abcdefghijklmnop in a log") == "token *** in a log"
    secrets.cleanup()
    assert not token_file.exists()
    assert ca.exists(), "a file the user gave is never removed"


def test_secret_errors_never_show_values(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        collect(["id=hf,env=MISSING"], None, env={})
    assert "MISSING is not set" in info.value.message
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hunter2-not-a-certificate")
    with pytest.raises(InputError) as info:
        collect([], str(not_pem), env={})
    assert "hunter2" not in str(info.value)
    with pytest.raises(InputError, match="given twice"):
        collect([f"id=x,src={not_pem}", f"id=x,src={not_pem}"], None, env={})


# -- backends ----------------------------------------------------------------------------------------

def request(tmp_path: Path, **kwargs: object) -> BuildRequest:
    defaults: dict[str, object] = {"context": tmp_path, "tags": ("a:1", "a:2"), "build_args": {"B": "2", "A": "1"},
                                   "secrets": (Secret("ca", Path("/etc/ca.pem")),)}
    defaults.update(kwargs)
    return BuildRequest(**defaults)  # type: ignore[arg-type]


def test_docker_buildkit_env_argv(tmp_path: Path) -> None:
    backend = DockerBackend(docker_engine("buildkit-env"))
    argv = backend.build_argv(request(tmp_path, no_cache=True, platform="linux/amd64"))
    assert argv[:3] == ["/usr/bin/docker", "build", "--progress=plain"]
    assert argv[-1] == str(tmp_path)
    assert argv.index("--build-arg") < argv.index("A=1") < argv.index("B=2"), "build args are sorted"
    assert "id=ca,src=/etc/ca.pem" in argv and "--no-cache" in argv and "linux/amd64" in argv
    assert backend.build_env() == {"DOCKER_BUILDKIT": "1"}


def test_docker_buildx_loads_or_pushes_and_takes_a_builder(tmp_path: Path) -> None:
    backend = DockerBackend(docker_engine("buildx"))
    argv = backend.build_argv(request(tmp_path, builder="k8s"))
    assert argv[:3] == ["/usr/bin/docker", "buildx", "build"] and "--load" in argv
    assert argv[argv.index("--builder") + 1] == "k8s"
    assert "--push" in backend.build_argv(request(tmp_path, push=True))


def test_podman_argv_and_run_limits(tmp_path: Path) -> None:
    engine = Engine("podman", "/usr/bin/podman", "4.3.1", "4.3.1", "buildah", BUILDKIT)
    backend = PodmanBackend(engine)
    argv = backend.build_argv(request(tmp_path))
    assert argv[:3] == ["/usr/bin/podman", "build", "--layers"]
    run = backend.run_argv("img", ["python", "-"], ["-i"])
    assert run[:3] == ["/usr/bin/podman", "run", "--rm"] and run[-3:] == ["img", "python", "-"]
    assert run[3:7] == podman_ulimits()
    assert "--format" not in argv
    (tmp_path / "Dockerfile").write_text('FROM x\nHEALTHCHECK --interval=10s \\\n    CMD ["python", "-c", "0"]\n')
    argv = backend.build_argv(request(tmp_path))
    assert argv[3:5] == ["--format", "docker"], "Buildah keeps a HEALTHCHECK only in Docker's image format"


def test_gpu_options_per_family() -> None:
    docker = docker_engine()
    assert gpu_run_options(docker, "cuda") == ["--gpus", "all"]
    assert "/dev/kfd" in gpu_run_options(docker, "rocm")
    assert gpu_run_options(docker, "cpu") == []


# -- context -------------------------------------------------------------------------------------------

def test_wheelhouse_offers_only_the_planned_torch_variant(tmp_path: Path) -> None:
    house, context = tmp_path / "house", tmp_path / "ctx"
    house.mkdir()
    context.mkdir()
    for name in ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "torch-2.13.0-cp311-cp311-linux_x86_64.whl",
                 "einops-0.8.2-py3-none-any.whl", "not-a-wheel.whl"):
        (house / name).write_bytes(b"")
    assert fits_variant("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "cpu")
    assert not fits_variant("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "cu130")
    linked = link_wheelhouse(house, context, "cu130")
    assert linked == ["einops-0.8.2-py3-none-any.whl", "torch-2.13.0-cp311-cp311-linux_x86_64.whl"]
    assert wheel_provides(linked, "torch", "2.13.0") == "torch-2.13.0-cp311-cp311-linux_x86_64.whl"
    assert wheel_provides(linked, "torch", "2.14.0") is None
    with pytest.raises(InputError, match="not a directory"):
        link_wheelhouse(tmp_path / "missing", context)
