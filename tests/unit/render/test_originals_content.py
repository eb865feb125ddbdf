"""What the presets needed to carry what transformers' originals carry (issue 20), rendered: build tools
outside the venv, source builds in a step of their own, companions and add-ons from the index the original
takes them from, exclusions that hold against dependencies, git-lfs set up for every user, the toolchain
kept where ops compile at run time, Intel's apt archive on request, and data fetched into a package."""

from __future__ import annotations

import json

import pytest

from dockyard.errors import ResolveError
from dockyard.render.renderer import Rendered, render
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from ..conftest import SpecWriter


def plan_of(write_spec: SpecWriter, body: str) -> Plan:
    return resolve(load(str(write_spec(f"[image]\n{body}\n"))))


def stage(rendered: Rendered, name: str) -> str:
    """The text of one stage of a rendered Dockerfile."""
    text = rendered.dockerfile
    start = text.index(f" AS {name}\n")
    end = text.find("\nFROM ", start)
    return text[start:end if end != -1 else len(text)]


def test_build_tools_stay_out_of_the_venv_the_final_image_copies() -> None:
    """detectron2's ninja and wheel go to their own folder, on PATH and PYTHONPATH for its step only, and the
    folder is gone when the step ends: the final image's venv never holds them."""
    builder = stage(render(resolve(load("exotic-models"))), "builder")
    assert "pip install --no-compile --target /opt/dockyard/build-tools" in builder
    assert 'PATH="/opt/dockyard/build-tools/bin:$PATH" PYTHONPATH="/opt/dockyard/build-tools"' in builder
    assert builder.count("rm -rf /opt/dockyard/build-tools") == 1
    assert "pip install --no-compile -c /opt/dockyard/constraints.txt ninja" not in builder


def test_a_source_build_gets_its_own_step_without_isolation_and_with_its_env() -> None:
    """fouroversix (sdist only; setup.py imports torch) as the quantization original installs it."""
    rendered = render(resolve(load("transformers-quantization-latest-gpu")))
    builder = stage(rendered, "builder")
    assert 'SKIP_CUDA_BUILD="1"' in builder and '--no-build-isolation -c /opt/dockyard/constraints.txt ' \
        '"fouroversix==' in builder
    assert "fouroversix" not in rendered.files["dockyard/requirements.txt"]
    assert "MAX_JOBS" not in builder, "nothing compiles: no job bound, no devel stage"


def test_companions_and_addons_come_from_the_index_the_original_uses() -> None:
    cuda = stage(render(resolve(load("transformers-all-latest-gpu"))), "builder")
    assert "ARG TORCHCODEC_INDEX_URL=https://download.pytorch.org/whl/cpu" in cuda
    assert 'pip install --no-compile --no-deps --index-url "${TORCHCODEC_INDEX_URL}" --find-links /wheels ' \
           '"torchcodec==${TORCHCODEC_VERSION}"' in cuda
    assert '"torchaudio==${TORCHAUDIO_VERSION}"' in cuda and "ARG TORCHAUDIO_VERSION=2.11.0" in cuda
    xpu = render(resolve(load("transformers-pytorch-xpu")))
    assert '"torchao==${TORCHAO_VERSION}"' in stage(xpu, "builder") and "ARG TORCHAO_VERSION=0.18.0" in xpu.dockerfile
    assert "torchao" not in xpu.files["dockyard/requirements.txt"], "not PyPI's build, which carries CUDA kernels"


def test_excluded_packages_are_removed_after_the_dependency_check_and_verified_absent() -> None:
    plan = resolve(load("transformers-all-latest-gpu"))
    builder = stage(render(plan), "builder")
    assert "pip check \\\n    && pip uninstall -y ninja \\\n" in builder
    assert json.loads(render(plan).files["dockyard/plan.json"])["excluded"] == ["ninja"]


def test_git_lfs_is_set_up_for_every_user_where_it_is_installed() -> None:
    base = stage(render(resolve(load("torch-light"))), "base")
    assert "&& git lfs install --skip-repo --system \\\n" in base
    assert "git lfs install" not in render(resolve(load("cpu-inference"))).dockerfile


def test_runtime_toolchain_keeps_the_devel_base_compilers_and_headers(write_spec: SpecWriter) -> None:
    body = 'target = "cuda"\ntorch = "2.13"\nvariant = "cu126"\naddons = ["deepspeed"]\ngpu-archs = ["8.0", "9.0"]'
    plain = plan_of(write_spec, body)
    kept = plan_of(write_spec, body + "\nruntime-toolchain = true")
    assert plain.runtime_base == "nvidia/cuda:12.6.3-base-ubuntu24.04" and "libaio-dev" not in plain.system_packages
    assert kept.runtime_base == kept.builder_base == "nvidia/cuda:12.6.3-devel-ubuntu24.04"
    assert {"build-essential", "libaio-dev"} <= set(kept.system_packages) and kept.keep_torch_headers
    assert dict(kept.env)["TORCH_CUDA_ARCH_LIST"] == "8.0;9.0"
    assert f"python.sh base {kept.python} --dev" in stage(render(kept), "base")
    assert f"python.sh base {plain.python}\n" in stage(render(plain), "base")
    assert plain.digest != kept.digest


def test_xpu_keeps_what_triton_compiles_its_launchers_with() -> None:
    plan = resolve(load("transformers-pytorch-xpu"))
    assert {"build-essential", "libze-dev"} <= set(plan.system_packages) and plan.python_headers


def test_an_apt_archive_is_added_before_the_system_packages(write_spec: SpecWriter) -> None:
    plan = plan_of(write_spec, 'extends = "transformers-pytorch-xpu"\napt-archives = ["intel-graphics"]')
    base = stage(render(plan), "base")
    key = base.index("curl -fsSL --retry 3 -o /etc/apt/keyrings/intel-graphics.asc "
                     '"https://repositories.intel.com/gpu/intel-graphics.key"')
    line = base.index("signed-by=/etc/apt/keyrings/intel-graphics.asc] https://repositories.intel.com/gpu/ubuntu noble")
    install = base.index("sh /run/dockyard/fetch.sh apt-get install -y --no-install-recommends build-essential")
    assert key < line < install and "--mount=type=secret,id=ca" in base


@pytest.mark.parametrize(("body", "message"), [
    ('target = "xpu"\napt-archives = ["intel-graphic"]', "unknown archive; known: intel-graphics"),
    ('target = "cpu"\napt-archives = ["intel-graphics"]', "serves ubuntu:24.04, and this image's final stage is "
                                                            "debian:bookworm"),
])
def test_an_apt_archive_the_knowledge_base_lacks_or_another_distribution_is_refused(
        write_spec: SpecWriter, body: str, message: str) -> None:
    with pytest.raises(ResolveError) as caught:
        plan_of(write_spec, body)
    assert message in str(caught.value)


def test_package_data_is_fetched_in_the_step_that_installs_transformers() -> None:
    builder = stage(render(resolve(load("custom-tokenizers"))), "builder")
    assert "# dockyard: ignore=DY115\nRUN " in builder
    assert '==${TRANSFORMERS_VERSION}" \\\n    && sh /run/dockyard/fetch.sh python -m unidic download\n' in builder


def test_jumanpp_builds_with_catch2_2_13_8() -> None:
    rendered = render(resolve(load("custom-tokenizers")))
    assert 'CATCH_URL="https://github.com/catchorg/Catch2/releases/download/v2.13.8/catch.hpp"' in rendered.dockerfile
    script = rendered.files["dockyard/build-jumanpp.sh"]
    assert 'curl -fsSL --retry 3 -o "$work/jumanpp-$JUMANPP_VERSION/libs/catch.hpp" "$CATCH_URL"' in script
