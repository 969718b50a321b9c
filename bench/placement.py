"""Placement quality on a synthetic month: gpurent's policy against first-fit.

A fleet of 64 nodes of 8 GPUs (two facilities, two interconnect domains each) receives a
month of requests for 1 to 32 GPUs lasting from ten minutes to two weeks, with demand
near 90% of capacity. Each request asks to start on arrival; what cannot be placed then is
turned away. Both policies see the same requests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from bench.synthetic import GPUS_PER_NODE, HOUR
from gpurent.leases.availability import NodeInfo, Timeline, slots_at
from gpurent.leases.placement import NodeSlots, Placement, first_fit, place

NODES = 64
DAYS = 30
SIZES = (1, 1, 1, 2, 2, 4, 4, 8, 8, 16, 32)
LARGE = 16


def fleet() -> list[NodeInfo]:
    return [
        NodeInfo(
            node_id=n,
            name=f"n{n:03d}",
            facility_id=n // 32,
            domain=f"f{n // 32}-d{(n // 16) % 2}",
            gpu_ids=tuple(range(n * GPUS_PER_NODE, (n + 1) * GPUS_PER_NODE)),
            size=GPUS_PER_NODE,
        )
        for n in range(NODES)
    ]


def requests(seed: int) -> list[tuple[float, int, float]]:
    """(arrival, GPUs, duration) for a month at about 90% of the fleet's capacity."""
    rng = random.Random(seed)
    low, high = 10 / 60 * HOUR, 14 * 24 * HOUR
    mean_duration = (high - low) / math.log(high / low)
    mean_size = sum(SIZES) / len(SIZES)
    capacity = NODES * GPUS_PER_NODE * DAYS * 24 * HOUR
    count = int(0.9 * capacity / (mean_size * mean_duration))
    return sorted(
        (
            rng.uniform(0, DAYS * 24 * HOUR),
            rng.choice(SIZES),
            math.exp(rng.uniform(math.log(low), math.log(high))),
        )
        for _ in range(count)
    )


def simulate(
    policy: Callable[[Sequence[NodeSlots], int], Placement | None], seed: int
) -> dict[str, float]:
    nodes = fleet()
    timelines = {gpu: Timeline() for node in nodes for gpu in node.gpu_ids}
    served = rejected = large_rejected = large_total = 0.0
    for arrival, count, duration in requests(seed):
        end = min(arrival + duration, DAYS * 24 * HOUR)
        placement = policy(slots_at(nodes, timelines, arrival, end), count)
        large_total += count >= LARGE
        if placement is None:
            rejected += 1
            large_rejected += count >= LARGE
            continue
        served += count * (end - arrival) / HOUR
        for gpu in placement.gpu_ids:
            line = timelines[gpu]
            position = len([s for s in line.starts if s < arrival])
            line.starts.insert(position, arrival)
            line.ends.insert(position, end)
            line.preemptible.insert(position, False)
    return {
        "gpu_hours_served": served,
        "rejected": rejected,
        "large_rejected": large_rejected,
        "large_requests": large_total,
    }


def run(seeds: int = 5) -> dict[str, float]:
    totals: dict[str, dict[str, float]] = {"gpurent": {}, "first_fit": {}}
    policies: dict[str, Callable[[Sequence[NodeSlots], int], Placement | None]] = {
        "gpurent": lambda slots, count: place(slots, count),
        "first_fit": first_fit,
    }
    for name, policy in policies.items():
        for seed in range(seeds):
            for key, value in simulate(policy, seed).items():
                totals[name][key] = totals[name].get(key, 0.0) + value
    ours, baseline = totals["gpurent"], totals["first_fit"]
    capacity = seeds * NODES * GPUS_PER_NODE * DAYS * 24
    return {
        "gpurent_gpu_hours": ours["gpu_hours_served"],
        "first_fit_gpu_hours": baseline["gpu_hours_served"],
        "served_ratio": ours["gpu_hours_served"] / baseline["gpu_hours_served"],
        "gpurent_utilization": ours["gpu_hours_served"] / capacity,
        "first_fit_utilization": baseline["gpu_hours_served"] / capacity,
        "large_requests": ours["large_requests"],
        "gpurent_large_rejected": ours["large_rejected"],
        "first_fit_large_rejected": baseline["large_rejected"],
    }
