"""Synthetic fleets and bookings for the benchmarks (seeded: every run sees the same)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from gpurent.leases.availability import NodeInfo, Timeline

HOUR = 3600.0
GPUS_PER_NODE = 8


@dataclass
class Fleet:
    nodes_by_model: dict[int, list[NodeInfo]]
    intervals: dict[int, list[tuple[float, float, bool]]]  # gpu id -> (start, end, preemptible)
    leases: int

    def timelines(self) -> dict[int, Timeline]:
        return {gpu: Timeline.of(ivs) for gpu, ivs in self.intervals.items()}


def build_fleet(
    *,
    gpus: int,
    leases: int,
    models: int = 4,
    facilities: int = 5,
    domains_per_facility: int = 4,
    start: float = 0.0,
    seed: int = 7,
) -> Fleet:
    """``gpus`` GPUs in 8-GPU nodes, and ``leases`` single-node leases packed onto them."""
    rng = random.Random(seed)
    node_count = gpus // GPUS_PER_NODE
    nodes_by_model: dict[int, list[NodeInfo]] = {m: [] for m in range(models)}
    all_nodes = []
    for n in range(node_count):
        facility = n % facilities
        node = NodeInfo(
            node_id=n,
            name=f"n{n:05d}",
            facility_id=facility,
            domain=f"f{facility}-d{(n // facilities) % domains_per_facility}",
            gpu_ids=tuple(range(n * GPUS_PER_NODE, (n + 1) * GPUS_PER_NODE)),
            size=GPUS_PER_NODE,
        )
        nodes_by_model[n % models].append(node)
        all_nodes.append(node)
    intervals: dict[int, list[tuple[float, float, bool]]] = {
        g: [] for node in all_nodes for g in node.gpu_ids
    }
    free_from = {g: start + rng.uniform(-48, 0) * HOUR for g in intervals}
    for lease in range(leases):
        node = all_nodes[lease % node_count]
        size = rng.choice((1, 1, 2, 4, 8))
        chosen = sorted(node.gpu_ids, key=free_from.__getitem__)[:size]
        begin = max(free_from[g] for g in chosen) + rng.expovariate(1 / (6 * HOUR))
        end = begin + rng.uniform(1, 72) * HOUR
        interruptible = rng.random() < 0.1
        for gpu in chosen:
            intervals[gpu].append((begin, end, interruptible))
            free_from[gpu] = end
    return Fleet(nodes_by_model, intervals, leases)
