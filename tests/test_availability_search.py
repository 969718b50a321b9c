"""The availability search against a naive scan, and multi-node windows, on random fleets."""

from __future__ import annotations

import random

import pytest
from bench.naive import naive_earliest
from bench.synthetic import HOUR, build_fleet

from gpurent.leases.availability import Timeline, earliest_windows


@pytest.mark.parametrize("seed", range(6))
def test_single_node_answers_match_a_naive_scan(seed: int) -> None:
    fleet = build_fleet(gpus=160, leases=600, models=2, facilities=2, seed=seed)
    timelines = fleet.timelines()
    rng = random.Random(seed)
    for _ in range(25):
        model = rng.randrange(2)
        count = rng.choice((1, 2, 3, 4, 8))
        duration = rng.choice((1, 6, 24, 72)) * HOUR
        after = rng.uniform(0, 200) * HOUR
        windows = earliest_windows(
            fleet.nodes_by_model[model], timelines, count, duration, after, 2000 * HOUR, 3
        )
        expected = naive_earliest(
            fleet.nodes_by_model[model], fleet.intervals, count, duration, after, 2000 * HOUR
        )
        assert (windows[0].start if windows else None) == expected


@pytest.mark.parametrize("seed", range(4))
def test_multi_node_windows_are_free_and_earliest_at_their_start(seed: int) -> None:
    fleet = build_fleet(
        gpus=320, leases=800, models=1, facilities=1, domains_per_facility=2, seed=seed
    )
    timelines = fleet.timelines()
    nodes = fleet.nodes_by_model[0]
    for count in (12, 16, 20, 32):
        windows = earliest_windows(nodes, timelines, count, 24 * HOUR, 50 * HOUR, 5000 * HOUR, 1)
        assert windows, count
        window = windows[0]
        assert len(set(window.placement.gpu_ids)) == count
        for gpu in window.placement.gpu_ids:
            assert timelines[gpu].occupancy(window.start, window.end) == 0  # FREE
        domains = {n.domain for n in nodes if set(n.gpu_ids) & set(window.placement.gpu_ids)}
        assert len(domains) == 1


def test_empty_timeline_is_free() -> None:
    line = Timeline.of([(10.0, 20.0, False), (30.0, 40.0, True)])
    assert line.occupancy(0, 10) == 0
    assert line.occupancy(15, 16) == 2
    assert line.occupancy(20, 30) == 0
    assert line.occupancy(35, 50) == 1
