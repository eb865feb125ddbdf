"""What each profile puts in the final image and the builder."""

from __future__ import annotations

from pathlib import Path

from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load


def plan_for(tmp_path: Path, profile: str):  # type: ignore[no-untyped-def]
    spec = tmp_path / f"{profile}.toml"
    spec.write_text(f'[image]\ntarget = "cpu"\nprofile = "{profile}"\npython = "3.11"\ntorch = "2.13"\n'
                    'transformers = "5.22.2"\n')
    return resolve(load(str(spec)))


def test_runtime_is_slim_and_has_no_tools(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "runtime")
    assert plan.slim and not plan.keep_torch_headers
    assert "git" not in plan.system_packages and "build-essential" not in plan.system_packages
    assert "PYTHONDONTWRITEBYTECODE" in render(plan).dockerfile


def test_ci_keeps_git_pip_and_a_writable_venv(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "ci")
    assert plan.slim and {"git", "git-lfs"} <= set(plan.system_packages)
    assert not plan.keep_torch_headers, "no compiler in the image: the headers serve nothing"
    text = render(plan).dockerfile
    assert "COPY --from=builder --chown=1000:1000 /opt/venv /opt/venv" in text
    assert "--slim --strip --keep-tools" in text, "jobs install the repository with pip at run time"


def test_dev_has_compilers_and_an_editable_source(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "dev")
    assert "build-essential" in plan.system_packages and plan.compile
    assert not plan.slim and plan.keep_torch_headers
    assert {"curl", "ca-certificates"} <= set(plan.build_packages), "the source archive is fetched with curl"
    text = render(plan).dockerfile
    assert "archive/${TRANSFORMERS_REF}.tar.gz" in text and "-e \"/opt/transformers" in text
    assert "git clone" not in text


def spec_plan(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    spec = tmp_path / "trim.toml"
    spec.write_text(body)
    return resolve(load(str(spec)))


def test_ffmpeg_on_bookworm_leaves_out_the_drivers_nothing_links(tmp_path: Path) -> None:
    plan = spec_plan(tmp_path, '[image]\nextends = "torch-light"\nname = "t"\n')
    assert "ffmpeg" in plan.system_packages and plan.distro == "debian:bookworm"
    assert "/usr/lib/*/libLLVM-15.so*" in plan.system_trim and "/usr/lib/*/dri/*" in plan.system_trim
    rendered = render(plan)
    text = rendered.dockerfile
    assert "path-exclude=/usr/lib/*/libLLVM-15.so*\\n" in text and "/etc/dpkg/dpkg.cfg.d/dockyard-trim" in text
    # dpkg is told before the install, the check runs after it, in the same layer
    assert text.index("dockyard-trim") < text.index("apt-get install") < text.index("trim-check.sh '/usr/lib/")
    assert "dockyard/trim-check.sh" in rendered.files


def test_no_trim_without_ffmpeg_or_when_not_slim(tmp_path: Path) -> None:
    text_only = plan_for(tmp_path, "ci")
    assert "ffmpeg" not in text_only.system_packages and text_only.system_trim == ()
    assert "trim-check" not in render(text_only).dockerfile
    assert "dockyard/trim-check.sh" not in render(text_only).files
    unslim = spec_plan(tmp_path, '[image]\nextends = "torch-light"\nname = "t"\nslim = false\n')
    assert unslim.system_trim == () and "dockyard-trim" not in render(unslim).dockerfile


def test_trim_applies_only_on_the_distribution_it_was_checked_on(tmp_path: Path) -> None:
    from dockyard.knowledge.loader import Knowledge

    k = Knowledge.load()
    assert k.trims_for(["ffmpeg"], "debian:bookworm")
    assert k.trims_for(["ffmpeg"], "ubuntu:24.04") == ()
    assert k.trims_for(["git"], "debian:bookworm") == ()
