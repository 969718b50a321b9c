"""Availability search on 10,000 GPUs holding 100,000 leases, against a naive scan.

In-process: the search reads the same in-memory timelines that the API's availability
index holds after a refresh. The naive baseline answers the same single-node questions by
scanning every allocation of every GPU at every candidate start.
"""

from __future__ import annotations

import random
import statistics
import time

from bench.naive import naive_earliest
from bench.synthetic import HOUR, build_fleet
from gpurent.leases.availability import earliest_windows

QUERIES = 400
NAIVE_QUERIES = 12


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(gpus: int = 10_000, leases: int = 100_000) -> dict[str, float]:
    fleet = build_fleet(gpus=gpus, leases=leases)
    timelines = fleet.timelines()
    rng = random.Random(11)
    horizon = 60 * 24 * HOUR
    questions = [
        (
            rng.randrange(len(fleet.nodes_by_model)),
            rng.choice((1, 2, 4, 8, 8, 12, 16, 32)),
            rng.choice((1, 8, 24, 72)) * HOUR,
            rng.uniform(0, 30 * 24) * HOUR,
        )
        for _ in range(QUERIES)
    ]
    fast: list[float] = []
    single_fast: list[float] = []
    answers = {}
    for number, (model, count, duration, after) in enumerate(questions):
        began = time.perf_counter()
        windows = earliest_windows(
            fleet.nodes_by_model[model], timelines, count, duration, after, horizon, 3
        )
        elapsed = time.perf_counter() - began
        fast.append(elapsed)
        if count <= 8:
            single_fast.append(elapsed)
            answers[number] = windows[0].start if windows else None

    naive: list[float] = []
    checked = 0
    for number, (model, count, duration, after) in enumerate(questions):
        if count > 8 or checked >= NAIVE_QUERIES:
            continue
        began = time.perf_counter()
        start = naive_earliest(
            fleet.nodes_by_model[model], fleet.intervals, count, duration, after, horizon
        )
        naive.append(time.perf_counter() - began)
        checked += 1
        assert start == answers[number], f"question {number}: {start} != {answers[number]}"

    return {
        "gpus": gpus,
        "leases": leases,
        "p50_ms": statistics.median(fast) * 1000,
        "p99_ms": percentile(fast, 0.99) * 1000,
        "single_node_p50_ms": statistics.median(single_fast) * 1000,
        "naive_single_node_p50_ms": statistics.median(naive) * 1000,
        "speedup_vs_naive": statistics.median(naive) / statistics.median(single_fast),
    }
