"""The baseline availability search: scan every allocation of every GPU at every start."""

from __future__ import annotations

from collections.abc import Sequence

from gpurent.leases.availability import NodeInfo


def naive_earliest(
    nodes: Sequence[NodeInfo],
    intervals: dict[int, list[tuple[float, float, bool]]],
    count: int,
    duration: float,
    earliest: float,
    horizon: float,
) -> float | None:
    """The earliest start at which one node holds ``count`` GPUs (single-node requests)."""
    candidates = sorted(
        {earliest}
        | {
            end
            for ivs in intervals.values()
            for _, end, _ in ivs
            if earliest < end <= earliest + horizon
        }
    )
    for start in candidates:
        stop = start + duration
        for node in nodes:
            free = sum(
                all(not (s < stop and e > start) for s, e, _ in intervals.get(gpu, []))
                for gpu in node.gpu_ids
            )
            if free >= count:
                return start
    return None
