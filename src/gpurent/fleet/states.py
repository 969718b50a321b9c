"""GPU states and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class GpuState(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    FAILED = "failed"
    RETIRED = "retired"


# Retired is final: a retired GPU keeps its history but never comes back.
ALLOWED_TRANSITIONS: dict[GpuState, frozenset[GpuState]] = {
    GpuState.AVAILABLE: frozenset({GpuState.MAINTENANCE, GpuState.FAILED, GpuState.RETIRED}),
    GpuState.MAINTENANCE: frozenset({GpuState.AVAILABLE, GpuState.FAILED, GpuState.RETIRED}),
    GpuState.FAILED: frozenset({GpuState.MAINTENANCE, GpuState.AVAILABLE, GpuState.RETIRED}),
    GpuState.RETIRED: frozenset(),
}


def can_transition(current: GpuState, target: GpuState) -> bool:
    return target in ALLOWED_TRANSITIONS[current]
