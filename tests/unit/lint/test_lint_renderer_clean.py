"""Every Dockerfile dockyard renders lints clean under dockyard's own rules.

The renderer is another part of the project; when it (or a preset) cannot render here the case is
skipped, not failed: this test is about lint's verdict on what the renderer produces."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import CASES

from dockyard.lint import lint_text

PRESETS = Path(__file__).resolve().parents[3] / "src" / "dockyard" / "knowledge" / "presets"
NAMES = sorted(p.stem for p in PRESETS.glob("*.toml")) or ["<none>"]


@pytest.mark.parametrize("preset", NAMES)
def test_rendered_preset_lints_clean(preset: str) -> None:
    try:
        from dockyard.render import renderer as render
        from dockyard.resolve import resolver as resolve
        from dockyard.spec import model as spec

        rendered = render.render(resolve.resolve(spec.load(preset)))
    except Exception as exc:  # the renderer is not lint's to test
        pytest.skip(f"cannot render {preset} here: {type(exc).__name__}: {exc}")
    found = lint_text(rendered.dockerfile, f"{preset}/Dockerfile")
    assert not found, "\n".join(f"{f.line}: {f.code} {f.message}" for f in found)


def test_renderer_shaped_dockerfile_lints_clean() -> None:
    """The shapes the renderer emits (ARG before FROM, named stages, cache/secret/bind mounts, a wrapper
    script, torch from its index then `-c constraints`, MAX_JOBS, TORCH_CUDA_ARCH_LIST, USER 1000:1000)."""
    text = (CASES / "clean-cuda-multistage.Dockerfile").read_text(encoding="utf-8")
    assert lint_text(text) == []
