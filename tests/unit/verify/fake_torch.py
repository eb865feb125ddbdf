"""A fake device layer for the probe's GPU section: the parts of the `torch` module that
`probe.gpu_facts` and `probe.check_gpu` call, answering like a machine with given GPUs.

Only for unit tests of the probe's reasoning on machines without a GPU; scripts/device-check.sh records
what a real torch answers (tests/fixtures/device-check/) and test_recordings replays it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


@dataclass
class Gpu:
    name: str
    major: int
    minor: int
    arch: str = ""  # gcnArchName on ROCm
    memory_gib: int = 80


class Tensor:
    """Enough of a tensor for the probe's 64x64 matmul: ones, @, float, sum, item."""

    def __init__(self, value: float, size: int) -> None:
        self.value, self.size = value, size

    def __matmul__(self, other: Tensor) -> Tensor:
        return Tensor(self.value * other.value * self.size, self.size)

    def float(self) -> Tensor:
        return self

    def sum(self) -> Tensor:
        return Tensor(self.value * self.size * self.size, self.size)

    def item(self) -> float:
        return self.value


@dataclass
class FakeTorch:
    version: str = "2.9.1+cu128"
    cuda: str | None = "12.8"
    hip: str | None = None
    arch_list: tuple[str, ...] = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
    gpus: list[Gpu] = field(default_factory=list)
    nccl: tuple[int, int, int] | None = (2, 27, 3)
    bf16: bool = True
    devices_used: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.__version__ = self.version
        self.version = SimpleNamespace(cuda=self.cuda, hip=self.hip)  # type: ignore[assignment]
        self._C = SimpleNamespace(_has_xpu=False)
        self.bfloat16 = "bfloat16"
        self.cuda = SimpleNamespace(  # type: ignore[assignment]
            get_arch_list=lambda: list(self.arch_list),
            is_available=lambda: bool(self.gpus),
            device_count=lambda: len(self.gpus),
            get_device_properties=self._props,
            is_bf16_supported=lambda: self.bf16,
            nccl=SimpleNamespace(version=lambda: self.nccl),
        )
        self.distributed = SimpleNamespace(is_available=lambda: True, is_nccl_available=lambda: self.nccl is not None)

    def _props(self, index: int) -> Any:
        gpu = self.gpus[index]
        props = SimpleNamespace(name=gpu.name, major=gpu.major, minor=gpu.minor, total_memory=gpu.memory_gib * 2**30)
        if gpu.arch:
            props.gcnArchName = gpu.arch
        return props

    def ones(self, rows: int, cols: int, device: str = "cpu", dtype: Any = None) -> Tensor:
        self.devices_used.append(f"{device}/{dtype}")
        return Tensor(1.0, rows)
