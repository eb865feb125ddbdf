"""The reader: what a Dockerfile puts in its final image, read the way BuildKit and the shell would with the
ARG defaults (hostile and odd Dockerfiles included)."""

from __future__ import annotations

from dockyard.lint.parser import parse
from dockyard.readback.inventory import Inventory, inventory_from_dict
from dockyard.readback.reader import read


def inventory(text: str, files: dict[str, str] | None = None) -> Inventory:
    return read(parse(text), (files or {}).get)


def final(inv: Inventory, kind: str) -> dict[str, str]:
    return {name: item.value for name, item in inv.final(kind).items()}


def test_arg_before_from_and_env_are_resolved_like_buildkit() -> None:
    inv = inventory('ARG CUDA=12.6.3\nARG PY\nFROM nvidia/cuda:${CUDA}-devel-ubuntu22.04\nARG TORCH=2.6.0\n'
                    'ENV HOME_DIR=/opt X="${TORCH}"\n'
                    'RUN pip install --no-cache-dir "torch==${TORCH}" --index-url https://download.pytorch.org/whl/cu126\n')
    assert [i.name for i in inv.of("base")] == ["nvidia/cuda:12.6.3-devel-ubuntu22.04"]
    assert final(inv, "packages") == {"torch": "==2.6.0"}
    assert final(inv, "env") == {"HOME_DIR": "/opt", "X": "2.6.0"}
    assert {i.name: i.value for i in inv.of("args")} == {"CUDA": "12.6.3", "PY": "", "TORCH": "2.6.0"}


def test_an_arg_without_default_stays_a_variable_in_the_base() -> None:
    inv = inventory("ARG PYTHON_VERSION\nFROM python:${PYTHON_VERSION}-slim\n")
    assert [i.name for i in inv.of("base")] == ["python:${PYTHON_VERSION}-slim"]
    assert not inv.of("python")


def test_heredocs_and_line_continuations() -> None:
    inv = inventory("# syntax=docker/dockerfile:1\nFROM python:3.11-slim\n"
                    "RUN apt-get update && \\\n    apt-get install -y --no-install-recommends \\\n"
                    "        git \\\n        curl && rm -rf /var/lib/apt/lists/*\n"
                    "RUN <<EOT\nset -e\npip install einops==0.8.2\npip install 'timm>=1'\nEOT\n")
    assert set(final(inv, "system")) == {"git", "curl"}
    assert final(inv, "packages") == {"einops": "==0.8.2", "timm": ">=1"}
    assert final(inv, "python") == {"3.11": ""}
    assert not inv.of("steps"), "apt housekeeping and rm are not build steps"


def test_multi_stage_copy_brings_the_venv_and_only_it() -> None:
    inv = inventory("FROM python:3.12-slim AS build\nENV VIRTUAL_ENV=/opt/venv\n"
                    "RUN python -m venv /opt/venv && /opt/venv/bin/pip install ninja==1.13.2 einops==0.8.2\n"
                    "RUN apt-get install -y build-essential\nRUN pip install --target /opt/other rich==14.0.0\n"
                    "FROM python:3.12-slim\nCOPY --from=build /opt/venv /opt/venv\nRUN apt-get install -y git\n")
    assert final(inv, "packages") == {"ninja": "==1.13.2", "einops": "==0.8.2"}
    assert set(final(inv, "system")) == {"git"}, "apt packages of a build stage do not travel with COPY"
    build_only = {i.name for i in inv.of("packages") if not i.final}
    assert build_only == {"rich"}
    assert [(i.name, i.detail) for i in inv.of("base") if not i.final] == [("python:3.12-slim", "build stage build")]


def test_pip_requirement_files_from_the_build_context() -> None:
    text = ("FROM python:3.12-slim\n"
            "RUN --mount=type=bind,source=reqs/requirements.txt,target=/tmp/r.txt pip install -r /tmp/r.txt\n"
            "RUN pip install -r missing.txt\n")
    files = {"reqs/requirements.txt": "# pins\naccelerate==1.15.0 \\\n    --hash=sha256:abc\n-c other.txt\n"
                                      "peft>=0.10  # a comment\n"}
    inv = inventory(text, files)
    assert final(inv, "packages") == {"accelerate": "==1.15.0", "peft": ">=0.10"}
    unread = [i for i in inv.of("packages") if not i.final]
    assert [i.name for i in unread] == ["-r missing.txt"] and "not in the build context" in unread[0].detail


def test_conda_and_uv() -> None:
    inv = inventory("FROM continuumio/miniconda3\nRUN conda create -y -n env python=3.10 && "
                    "conda install -y -c conda-forge mkl=2024.0 numpy\n"
                    "RUN pip install uv && uv venv --python 3.12 /opt/venv && uv pip install --python /opt/venv "
                    "'torch==2.6.0' --index-url https://download.pytorch.org/whl/cpu\n")
    assert final(inv, "packages") == {"mkl": "=2024.0", "numpy": "", "uv": "", "torch": "==2.6.0"}
    assert final(inv, "python") == {"3.12": ""}
    assert "uv venv --python 3.12 /opt/venv" in final(inv, "steps")


def test_branches_follow_the_arg_defaults() -> None:
    inv = inventory("FROM python:3.12-slim\nARG FLASH_ATTN=false\nARG PYTORCH=2.14.0\n"
                    'RUN if [ "$FLASH_ATTN" != "false" ]; then pip install flash-attn; else echo skip; fi\n'
                    "RUN [ ${#PYTORCH} -gt 0 ] && VERSION='torch=='$PYTORCH'.*' || VERSION='torch'; "
                    "pip install $VERSION\n"
                    'RUN if printf \'%s\\n\' "2.11.0" "${PYTORCH}" | sort -V | head -1 | grep -qx "2.11.0"; then '
                    'A="torchaudio==2.11.0"; else A="torchaudio==${PYTORCH}.*"; fi; pip install "$A"\n')
    assert final(inv, "packages") == {"torch": "==2.14.0.*", "torchaudio": "==2.11.0"}
    skipped = [i for i in inv.of("packages") if i.name == "flash-attn"]
    assert skipped and not skipped[0].final and "does not run with the ARG defaults" in skipped[0].detail


def test_a_login_shell_reads_what_earlier_runs_wrote_to_the_profile() -> None:
    inv = inventory('FROM python:3.12-slim\nSHELL ["sh", "-lc"]\nARG PYTORCH=2.11.0\n'
                    "RUN VERSION='torch=='$PYTORCH'.*'; echo \"export VERSION='$VERSION'\" >> ~/.profile\n"
                    "RUN pip install $VERSION\n")
    assert final(inv, "packages") == {"torch": "==2.11.0.*"}


def test_git_clones_name_local_installs_and_removals_take_items_out() -> None:
    inv = inventory("FROM python:3.12-slim\nARG REF=v5.0.0\nWORKDIR /src\n"
                    "RUN git clone https://github.com/huggingface/transformers && cd transformers && "
                    "git checkout $REF\n"
                    "RUN pip install -e ./transformers[dev,testing]\n"
                    "RUN git clone https://github.com/Dao-AILab/flash-attention.git /tmp/fa && cd /tmp/fa && "
                    "pip install --no-build-isolation .\n"
                    "RUN pip uninstall -y transformers ninja && apt-get remove -y gcc\n")
    packages = {i.name: i for i in inv.of("packages")}
    assert packages["transformers"].value == "https://github.com/huggingface/transformers@v5.0.0"
    assert not packages["transformers"].final and "removed at line" in packages["transformers"].detail
    assert packages["flash-attn"].final, "a clone of Dao-AILab/flash-attention installs flash-attn"
    assert set(final(inv, "extras")) == {"transformers[dev]", "transformers[testing]"}, \
        "what an extra installed stays when its package is removed"
    assert not packages["ninja"].final and "installed by the base image or as a dependency" in packages["ninja"].detail
    assert any(i.name == "gcc" and not i.final for i in inv.of("system"))


def test_pipelines_are_one_step_and_smoke_tests_are_steps() -> None:
    inv = inventory("FROM ubuntu:24.04\nRUN curl -LsSf https://astral.sh/uv/install.sh | sh\n"
                    "RUN python3 -c \"import torch\" && git lfs install\nUSER root\nWORKDIR app\n"
                    "ENTRYPOINT [\"/entrypoint.sh\"]\nCMD bash\nLABEL a=b\n")
    assert list(final(inv, "steps")) == ["curl -LsSf https://astral.sh/uv/install.sh | sh", "python3 -c import torch",
                                         "git lfs install"]
    assert set(inv.final("user")) == {"root"} and set(inv.final("workdir")) == {"/app"}
    assert set(inv.final("entrypoint")) == {"/entrypoint.sh"} and set(inv.final("cmd")) == {"/bin/sh -c bash"}


def test_unparsable_input_is_a_problem_not_an_exception() -> None:
    assert read(parse("\x00\x01binary")).problems
    assert read(parse("RUN echo no from\n")).problems


def test_an_inventory_round_trips_through_plain_data() -> None:
    inv = inventory("FROM python:3.12-slim\nRUN pip install a==1 && pip uninstall -y a\nENV X=1\n")
    assert inventory_from_dict(inv.to_dict()) == inv
