"""resolve as a search: open keys are tried newest first and the first combination that passes every
rule wins (with a note naming what was passed over); keys the user set stay fixed; refusals name the
smallest conflicting set of the user's keys; yanked releases are refused as yanked; knowledge gaps are
reported with how to supply the missing row."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.errors import ResolveError
from dockyard.knowledge.loader import Knowledge
from dockyard.lint import lint_text
from dockyard.render.renderer import render
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import ImageSpec, load

from ..conftest import CliRunner, SpecWriter

ROCM72_DEV = "rocm/dev-ubuntu-24.04:7.2-complete"
SRC_YANKED = "PyPI's JSON API, yanked flag and reason, in knowledge/releases.toml"


def plan_for(write_spec: SpecWriter, body: str, k: Knowledge | None = None) -> Plan:
    return resolve(load(str(write_spec(f"[image]\n{body}\n"))), k)


def refusal(write_spec: SpecWriter, body: str) -> ResolveError:
    with pytest.raises(ResolveError) as caught:
        plan_for(write_spec, body)
    return caught.value


# -- the two specs of the issue: an older variant has the rocm/dev image compiling needs --------------

@pytest.mark.parametrize("body", ['target = "rocm"\naddons = ["deepspeed"]',
                                  'target = "rocm"\naddons = ["flash-attn"]\ngpu-archs = ["gfx942"]'],
                         ids=["deepspeed", "flash-attn-gfx942"])
def test_rocm_compile_passes_over_the_variant_without_a_dev_image(body: str, write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, body)
    assert (plan.torch.version, plan.torch.variant) == ("2.14.1", "rocm7.2")
    assert plan.builder_base == ROCM72_DEV
    assert plan.compile
    assert plan.notes[0] == ("torch 2.14.1 (rocm7.14) skipped: no rocm/dev image known for rocm7.14, which "
                             "compiling needs; chose torch 2.14.1 (rocm7.2), Python 3.14")
    assert len(plan.gaps) == 1
    assert "knowledge/rocm.toml [[variant]] rocm7.14: dev_image is empty" in plan.gaps[0]
    assert "[image].base" in plan.gaps[0] and "[base-map]" in plan.gaps[0]


@pytest.mark.parametrize("body", ['target = "rocm"\naddons = ["deepspeed"]',
                                  'target = "rocm"\naddons = ["flash-attn"]\ngpu-archs = ["gfx942"]'],
                         ids=["deepspeed", "flash-attn-gfx942"])
def test_the_rocm_plans_render_and_lint_clean(body: str, write_spec: SpecWriter) -> None:
    """Buildable as far as this machine can tell without a ROCm image: a builder stage FROM the known
    rocm/dev image compiles the add-on for the asked archs, and dockyard's linter finds nothing."""
    rendered = render(plan_for(write_spec, body))
    assert f"ARG BUILDER_IMAGE={ROCM72_DEV}\n" in rendered.dockerfile
    assert "FROM ${BUILDER_IMAGE} AS builder\n" in rendered.dockerfile
    assert "ARG TORCH_VARIANT=rocm7.2\n" in rendered.dockerfile
    assert lint_text(rendered.dockerfile, "Dockerfile") == []


def test_check_prints_the_skip_note_and_the_gap(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    result = run_cli(["check", str(write_spec('[image]\ntarget = "rocm"\naddons = ["deepspeed"]\n'))])
    assert result.code == 0, result.err
    assert "note: torch 2.14.1 (rocm7.14) skipped: no rocm/dev image known for rocm7.14" in result.err
    assert "gap: knowledge/rocm.toml [[variant]] rocm7.14: dev_image is empty" in result.err


def test_without_a_compile_the_newest_variant_stays_and_nothing_is_noted(write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, 'target = "rocm"')
    assert plan.torch.variant == "rocm7.14"
    assert not any("skipped" in n for n in plan.notes)
    assert plan.gaps == ()


# -- search order ------------------------------------------------------------------------------------

def test_torch_releases_are_tried_newest_first(write_spec: SpecWriter) -> None:
    """tpu needs a torch_xla pair: 2.15 .. 2.10 are passed over for 2.9, and the note names the first."""
    plan = plan_for(write_spec, 'target = "tpu"')
    assert plan.torch.version == "2.9.1"
    assert plan.notes[0].startswith("torch 2.15.0 skipped: no torch_xla release pairs with torch 2.15")
    assert plan.notes[0].endswith("chose torch 2.9.1 (cpu), Python 3.13")


def test_variants_within_a_release_keep_their_preference(write_spec: SpecWriter) -> None:
    """cuda: the PyPI default variant first; deepspeed refuses CUDA 13, so torch 2.15 (only cu132 known) is
    passed over, then 2.14.1 takes cu126 of the same release (not an older torch) over its cu130."""
    plan = plan_for(write_spec, 'target = "cuda"\naddons = ["deepspeed"]')
    assert (plan.torch.version, plan.torch.variant) == ("2.14.1", "cu126")
    assert plan.notes[0].startswith("torch 2.15.0 skipped: deepspeed on CUDA 13.2")
    assert "2 more combinations" in plan.notes[0], "2.15.0 cu132, then 2.14.1's cu130 and cu132"


def test_pythons_are_tried_newest_first(write_spec: SpecWriter) -> None:
    """A modality package with no release for the newest Python makes the search take the next Python."""
    k = Knowledge.load()
    pins = dict(k.pins)
    pins["pillow"] = {p: row for p, row in pins["pillow"].items() if p != "3.14"}
    plan = plan_for(write_spec, 'target = "cpu"\nmodalities = ["vision"]', replace(k, pins=pins))
    assert (plan.torch.version, plan.python) == ("2.14.1", "3.13")
    assert plan.notes[0].startswith("torch 2.14.1 (cpu), Python 3.14 skipped: knowledge/pins.toml has no release "
                                    "of pillow for Python 3.14")


def test_transformers_releases_are_tried_newest_first(write_spec: SpecWriter) -> None:
    """An extra that later releases dropped (5.0.0 was the last with torch-speech, its METADATA says): the
    newest release is passed over for the newest one that has it."""
    plan = plan_for(write_spec, 'target = "cpu"\nextras = ["torch-speech"]')
    assert plan.transformers.version == "5.0.0"
    assert "transformers 5.25.0 skipped: it has no torch-speech extra; chose 5.0.0" in plan.notes


def test_the_search_is_deterministic(write_spec: SpecWriter) -> None:
    body = 'target = "rocm"\naddons = ["flash-attn"]\ngpu-archs = ["gfx942"]'
    assert plan_for(write_spec, body) == plan_for(write_spec, body)


# -- keys the user set are fixed ---------------------------------------------------------------------

def test_a_pinned_variant_is_not_searched_past(write_spec: SpecWriter) -> None:
    error = refusal(write_spec, 'target = "rocm"\nvariant = "rocm7.14"\naddons = ["deepspeed"]')
    assert "[image].variant = 'rocm7.14': no rocm/dev image known for rocm7.14" in error.message
    assert 'set variant = "rocm7.14" and [image].base = a rocm/dev image of ROCm 7.14' in error.message
    assert error.conflict == ("variant", "addons")


def test_base_supplies_the_missing_dev_image(write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, 'target = "rocm"\nvariant = "rocm7.14"\naddons = ["deepspeed"]\n'
                                'base = "rocm/dev-ubuntu-24.04:7.14-complete"')
    assert plan.torch.variant == "rocm7.14"
    assert plan.builder_base == plan.runtime_base == "rocm/dev-ubuntu-24.04:7.14-complete"


@pytest.mark.parametrize(("body", "torch", "variant", "python"), [
    ('target = "rocm"\ntorch = "2.11"\naddons = ["deepspeed"]', "2.11.0", "rocm7.2", "3.14"),
    ('target = "rocm"\npython = "3.12"\naddons = ["deepspeed"]', "2.14.1", "rocm7.2", "3.12"),
    ('target = "cuda"\nvariant = "cu128"', "2.11.0", "cu128", "3.14"),
    ('target = "cpu"\ntransformers = "4.57"', "2.14.1", "cpu", "3.14"),
], ids=["torch", "python", "variant", "transformers"])
def test_pinned_keys_hold(body: str, torch: str, variant: str, python: str, write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, body)
    assert (plan.torch.version, plan.torch.variant, plan.python) == (torch, variant, python)


# -- refusals name the smallest conflicting set of the user's keys -----------------------------------

@pytest.mark.parametrize(("body", "keys", "fact", "way_out"), [
    ('target = "cuda"\naddons = ["flash-attn"]\ngpu-archs = ["7.5", "8.0"]\npython = "3.12"', ("addons", "gpu-archs"),
     "flash-attn supports sm 8.0 and newer only", "without [image].gpu-archs (torch 2.15.0 (cu132), Python 3.12)"),
    ('target = "cpu"\npython = "3.10"\ntransformers = "5.24.0"\npackages = ["einops"]', ("python", "transformers"),
     "not supported by transformers 5.24.0", "without [image].python (torch 2.14.1 (cpu), Python 3.14)"),
    ('target = "tpu"\ntorch = "2.12"\nmodalities = ["vision"]', ("torch",),
     "no torch_xla release pairs with torch 2.12", "without [image].torch (torch 2.9.1 (cpu), Python 3.13)"),
    ('target = "cuda"\nvariant = "cu130"\naddons = ["deepspeed"]', ("variant", "addons"),
     "deepspeed on CUDA 13.0", "without [image].variant (torch 2.14.1 (cu126), Python 3.14)"),
], ids=["flash-attn-turing", "python-transformers", "tpu-torch", "deepspeed-cuda13"])
def test_refusal_names_the_conflicting_keys(body: str, keys: tuple[str, ...], fact: str, way_out: str,
                                            write_spec: SpecWriter) -> None:
    error = refusal(write_spec, body)
    assert error.conflict == keys
    assert fact in error.message
    assert error.hint is not None and way_out in error.hint
    for key in keys:
        assert f"[image].{key} = " in error.hint


def test_check_prints_the_conflict_in_the_hint(write_spec: SpecWriter, run_cli: CliRunner) -> None:
    path = write_spec('[image]\ntarget = "cuda"\naddons = ["flash-attn"]\ngpu-archs = ["7.5"]\n')
    result = run_cli(["check", str(path)])
    assert result.code == 2
    assert "Traceback" not in result.err
    assert ("hint: the smallest set of your keys that conflict (with target = 'cuda'): "
            "[image].addons = ['flash-attn'], [image].gpu-archs = ['7.5']") in result.err


def test_a_single_key_that_cannot_work_is_named_alone(write_spec: SpecWriter) -> None:
    error = refusal(write_spec, 'target = "tpu"\naddons = ["bitsandbytes"]\npython = "3.12"')
    assert error.conflict == ("addons",)
    assert error.hint is not None and "that cannot work (with target = 'tpu')" in error.hint


# -- yanked releases ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("pin", "nearest"), [("4.46.0", "4.46.1"), ("4.52.0", "4.52.1"), ("4.57.0", "4.57.1")])
def test_a_yanked_transformers_is_refused_as_yanked(pin: str, nearest: str, write_spec: SpecWriter,
                                                      run_cli: CliRunner) -> None:
    path = write_spec(f'[image]\ntarget = "cpu"\ntorch = "2.5"\ntransformers = "{pin}"\n')
    result = run_cli(["check", str(path)])
    assert result.code == 2
    assert f"[image].transformers = '{pin}': transformers {pin} was yanked from PyPI" in result.err
    assert SRC_YANKED in result.err
    assert f'Nearest valid choices: transformers = "{nearest}"' in result.err
    assert "matches no release" not in result.err


def test_a_range_over_a_yanked_release_takes_a_good_one(write_spec: SpecWriter) -> None:
    plan = plan_for(write_spec, 'target = "cpu"\ntorch = "2.5"\ntransformers = ">=4.46,<4.47"')
    assert plan.transformers.version == "4.46.3"


def test_yanked_facts_come_from_the_index_and_are_not_known_releases() -> None:
    """releases.toml records PyPI's yanks (4.57.0 and 5.10.0 were missing from the hand-kept list it replaced)."""
    k = Knowledge.load()
    rows = k.yanked("transformers")
    assert set(rows) == {"4.46.0", "4.52.0", "4.57.0", "5.10.0"}
    for version, row in rows.items():
        assert version not in k.transformers_versions
        assert row.yanked is not None
    assert rows["4.57.0"].yanked == "Error in the setup causing installation issues"


def test_resolve_without_explain_skips_the_conflict_search() -> None:
    spec = ImageSpec(name="x", target="cuda", addons=("flash-attn",), gpu_archs=("7.5",))
    with pytest.raises(ResolveError) as caught:
        resolve(spec, explain=False)
    assert caught.value.conflict == ()
    assert "flash-attn supports sm 8.0" in caught.value.message
