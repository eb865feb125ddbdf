"""What a serve pod asks for, from its model (knowledge/deploy.toml [resources], docs/serve.md):

    memory = weights x (bytes per parameter loaded / bytes per parameter stored) x headroom + runtime
    (the target's runtime_mib),

rounded up to a whole GiB, plus the target's memory-backed /dev/shm; the request equals the limit, so a
pod that fits when it is scheduled is not killed while it loads. The /tmp and cache emptyDirs are
bounded (sizeLimit) and their sum is the ephemeral-storage request; a model volume filled at start is
sized from the Hub's file list."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dockyard.deploy import k8svalues as rules
from dockyard.deploy.weights import ModelSize
from dockyard.errors import InputError
from dockyard.knowledge.deploy import Sizing

GIB = 1 << 30
MIB = 1 << 20
SUFFIXES = {"Ki": 1 << 10, "Mi": MIB, "Gi": GIB, "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "": 1}
QUANTITY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T|)$")


def quantity_bytes(value: str, flag: str) -> int:
    """A whole-number memory or storage quantity ("4Gi", "500M", "1073741824") in bytes."""
    match = QUANTITY.match(value)
    if not match:
        raise InputError(f"{flag} {value!r}: not a quantity of bytes", "write a whole number with a suffix, "
                         "e.g. 16Gi, 512Mi or 20G")
    return int(match.group(1)) * SUFFIXES[match.group(2)]


def gib(n_bytes: float) -> str:
    return f"{max(1, math.ceil(n_bytes / GIB))}Gi"


def human(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.2f} GiB" if n_bytes >= GIB else f"{n_bytes / MIB:.1f} MiB"


@dataclass(frozen=True)
class PodResources:
    cpu: str
    memory: str  # request and limit
    tmp: str  # sizeLimit of /tmp
    cache: str  # sizeLimit of the Hugging Face cache
    shm: str  # a memory-backed /dev/shm, "" for none
    ephemeral: str  # the ephemeral-storage request: tmp + cache
    model_volume: str  # the size of a model volume a fetch at start fills
    notes: tuple[str, ...] = ()  # how memory was decided, for the CLI to print


def load_factor(stored: str | None, dtype: str | None, quantization: str | None, sizing: Sizing) -> float:
    """Bytes per parameter loaded over bytes per parameter stored (1 when either is unknown or auto)."""
    stored_bytes = sizing.dtype_bytes.get(stored or "")
    if not stored_bytes:
        return 1.0
    if quantization and quantization in sizing.quantization_bytes:
        return sizing.quantization_bytes[quantization] / stored_bytes
    loaded = sizing.dtype_bytes.get(dtype or "")
    return loaded / stored_bytes if loaded else 1.0


def model_memory(size: ModelSize, dtype: str | None, quantization: str | None, runtime_mib: int,
                 sizing: Sizing) -> tuple[int, str]:
    """(bytes, how) for the model and the runtime, before /dev/shm."""
    factor = load_factor(size.stored_dtype, dtype, quantization, sizing)
    total = size.weights * factor * sizing.headroom + runtime_mib * MIB
    how = (f"weights {human(size.weights)} ({size.source}) x {factor:g} (stored {size.stored_dtype or 'as loaded'}, "
           f"loaded {quantization or dtype or 'as stored'}) x headroom {sizing.headroom:g} + runtime "
           f"{runtime_mib} MiB = {human(total)}")
    return math.ceil(total), how


def pod_resources(size: ModelSize | None, dtype: str | None, quantization: str | None, shm: str, sizing: Sizing,
                  cpu: str | None = None, memory: str | None = None, why_unknown: str = "",
                  runtime_mib: int = 512) -> PodResources:
    """Requests and limits for one replica. `memory` (--memory) replaces the computed value; `size` None:
    the model's size is unknown (`why_unknown` says why) and the table's default applies."""
    shm_bytes = quantity_bytes(shm, "[target] shm") if shm else 0
    notes: list[str] = []
    if memory is not None:
        chosen = rules.quantity(memory, "--memory")
        notes.append(f"memory {memory} (--memory)" + (f", of which /dev/shm may use {shm}" if shm else ""))
    elif size is not None and size.weights:
        need, how = model_memory(size, dtype, quantization, runtime_mib, sizing)
        chosen = gib(need + shm_bytes)
        notes.append(f"memory {chosen}: {how}" + (f", + /dev/shm {shm}" if shm else "") + "; --memory overrides")
    else:
        base = quantity_bytes(sizing.unknown_memory, "[resources] unknown_memory")
        chosen = gib(base + shm_bytes)
        reason = why_unknown or (f"{size.source} has no weight files" if size is not None else "the size is unknown")
        notes.append(f"memory {chosen}: the model's size is not known here ({reason}); the default "
                     f"{sizing.unknown_memory}" + (f" + /dev/shm {shm}" if shm else "") +
                     " may be too small: give --memory")
    volume = (gib(size.files * sizing.model_volume_headroom + sizing.model_volume_extra_gib * GIB)
              if size is not None and size.files else sizing.unknown_model_volume)
    ephemeral = quantity_bytes(sizing.tmp, "[resources] tmp") + quantity_bytes(sizing.cache, "[resources] cache")
    return PodResources(cpu=cpu if cpu is not None else sizing.cpu, memory=chosen, tmp=sizing.tmp,
                        cache=sizing.cache, shm=shm,
                        ephemeral=gib(ephemeral), model_volume=volume, notes=tuple(notes))
