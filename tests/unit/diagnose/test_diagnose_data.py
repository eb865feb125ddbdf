"""The GPU tables doctor reasons with: driver -> CUDA, variants -> archs, gfx -> wheels."""

from __future__ import annotations

import pytest

from dockyard.diagnose.data import (
    CudaReach,
    cuda_reach,
    driver_minimums,
    rocm_gfx_supported,
    runs_on,
    torch_cuda_variants,
    variant_archs,
    variant_support,
    variants_for_capability,
)


@pytest.mark.parametrize(("driver", "reach"), [
    ("595.71.05", CudaReach("13.2", "13.2")),
    ("580.65.06", CudaReach("13.0", "13.2")),
    ("575.51.03", CudaReach("12.9", "12.9")),
    ("570.124.06", CudaReach("12.8", "12.9")),
    ("535.216.03", CudaReach("12.2", "12.9")),
    ("525.60.13", CudaReach("12.0", "12.9")),
    ("525.60.12", CudaReach("11.8", "11.8")),
    ("470.256.02", CudaReach(None, "11.8")),
    ("440.33", CudaReach(None, None)),
    ("not-a-version", CudaReach(None, None)),
])
def test_cuda_reach(driver: str, reach: CudaReach) -> None:
    assert cuda_reach(driver) == reach


def test_variant_support_on_r570_and_r580() -> None:
    assert variant_support("570.124.06") == {
        "cu118": "native", "cu121": "native", "cu124": "native", "cu126": "native", "cu128": "native",
        "cu129": "compat", "cu130": "no", "cu132": "no"}
    r580 = variant_support("580.95.05")
    assert r580["cu130"] == "native" and r580["cu132"] == "compat"
    assert set(variant_support("garbage").values()) == {"no"}


@pytest.mark.parametrize(("archs", "capability", "runs"), [
    ("7.5;8.0;8.6;9.0", "8.9", True),           # Ada runs Ampere sm_86 SASS
    ("7.5;8.0;8.6;9.0", "12.0", False),         # no PTX: Blackwell consumer cannot JIT
    ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", "12.1", True),
    ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", "10.3", True),   # B300 runs sm_100 SASS
    ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", "11.0", False),  # Thor: no x86 wheel kernels
    ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", "7.0", False),
    ("9.0a", "9.0", True),
    ("9.0a", "9.2", False),
    ("8.0 8.6", "8.6", True),
    ("8.0", "not-a-cc", False),
])
def test_runs_on(archs: str, capability: str, runs: bool) -> None:
    assert runs_on(archs, capability) is runs


def test_variants_for_capability() -> None:
    assert variants_for_capability("7.0") == ["cu118", "cu121", "cu124", "cu126", "cu128", "cu129"]
    assert variants_for_capability("12.0") == ["cu128", "cu129", "cu130", "cu132"]
    assert variants_for_capability("3.5") == []


def test_tables_are_consistent() -> None:
    cudas = [cuda for cuda, _ in driver_minimums()]
    assert cudas == sorted(cudas, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    assert set(variant_archs()) == set(torch_cuda_variants())
    for cuda, _ in torch_cuda_variants().values():
        assert cuda in cudas


@pytest.mark.parametrize(("gfx", "support"), [
    ("gfx942", "all"), ("gfx90a:sramecc+:xnack-", "all"), ("gfx950", "rocm7"), ("gfx1151", "rocm7"),
    ("gfx1036", "no"), ("gfx803", "no"),
])
def test_rocm_gfx(gfx: str, support: str) -> None:
    assert rocm_gfx_supported(gfx) == support
