"""GPU utilization and memory through NVML (nvidia-ml-py), where GPUs exist.

On a host without NVIDIA's driver the samples are None: cleanly absent, never faked.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _nvml() -> Any | None:
    try:
        import pynvml  # type: ignore[import-untyped]

        pynvml.nvmlInit()
    except Exception:  # no library, no driver, no device: no samples
        return None
    return pynvml


def sample(indices: list[int]) -> list[dict[str, Any]] | None:
    nvml = _nvml()
    if nvml is None:
        return None
    samples = []
    for index in indices:
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        except nvml.NVMLError as exc:
            samples.append({"index": index, "error": str(exc)})
            continue
        samples.append(
            {
                "index": index,
                "name": str(nvml.nvmlDeviceGetName(handle)),
                "utilization_percent": int(rates.gpu),
                "memory_used_bytes": int(memory.used),
                "memory_total_bytes": int(memory.total),
            }
        )
    return samples


def device_minors(indices: list[int]) -> list[int]:
    """The minor numbers of the leased GPUs' /dev/nvidiaN files: NVML's, where it runs (they
    need not follow the index order), else the indices themselves."""
    nvml = _nvml()
    if nvml is None:
        return list(indices)
    minors = []
    for index in indices:
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            minors.append(int(nvml.nvmlDeviceGetMinorNumber(handle)))
        except nvml.NVMLError:
            minors.append(index)
    return minors
