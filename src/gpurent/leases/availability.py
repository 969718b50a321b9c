"""Earliest feasible windows: pure search over GPU timelines (times as epoch seconds).

A timeline holds one GPU's live allocations, sorted and never overlapping (the database
guarantees that), so "is this GPU free in [s, e)" is one binary search. The search
tries, per facility, the start times at which something frees up (the request's own
earliest start, then each allocation's end) and asks ``placement.place`` about each.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gpurent.leases.placement import NodeSlots, Placement, place

FREE, PREEMPTIBLE, BUSY = 0, 1, 2


@dataclass
class Timeline:
    """One GPU's allocations, sorted by start."""

    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    preemptible: list[bool] = field(default_factory=list)

    @classmethod
    def of(cls, intervals: Iterable[tuple[float, float, bool]]) -> Timeline:
        ordered = sorted(intervals)
        return cls(
            starts=[i[0] for i in ordered],
            ends=[i[1] for i in ordered],
            preemptible=[i[2] for i in ordered],
        )

    def occupancy(self, start: float, end: float) -> int:
        """FREE, PREEMPTIBLE (held only by interruptible leases) or BUSY for [start, end)."""
        i = bisect_right(self.ends, start)  # first allocation ending after start
        state = FREE
        while i < len(self.starts) and self.starts[i] < end:
            if not self.preemptible[i]:
                return BUSY
            state = PREEMPTIBLE
            i += 1
        return state

    def last_end_before(self, moment: float) -> float:
        """The end of the last allocation starting before ``moment`` (0 if none)."""
        i = bisect_left(self.starts, moment)
        return self.ends[i - 1] if i else 0.0

    def busy_between(self, low: float, high: float, preempt: bool) -> list[tuple[float, float]]:
        """Allocations overlapping [low, high) that block (all of them, unless ``preempt``)."""
        i = bisect_right(self.ends, low)
        out = []
        while i < len(self.starts) and self.starts[i] < high:
            if not (preempt and self.preemptible[i]):
                out.append((self.starts[i], self.ends[i]))
            i += 1
        return out

    def ends_between(self, low: float, high: float) -> list[float]:
        i = bisect_right(self.ends, low)
        out = []
        while i < len(self.ends) and self.ends[i] < high:
            out.append(self.ends[i])
            i += 1
        return out


@dataclass(frozen=True)
class NodeInfo:
    node_id: int
    name: str
    facility_id: int
    domain: str | None
    gpu_ids: tuple[int, ...]  # GPUs of one model that can be placed (available)
    size: int  # GPUs of that model on the node, in maintenance or failed too


def slots_at(
    nodes: Sequence[NodeInfo], timelines: dict[int, Timeline], start: float, end: float
) -> list[NodeSlots]:
    empty = Timeline()
    result = []
    for node in nodes:
        free: list[int] = []
        preemptible: list[int] = []
        release = start
        for gpu in node.gpu_ids:
            line = timelines.get(gpu, empty)
            state = line.occupancy(start, end)
            if state == FREE:
                free.append(gpu)
            else:
                release = max(release, line.last_end_before(end))
                if state == PREEMPTIBLE:
                    preemptible.append(gpu)
        result.append(
            NodeSlots(
                node_id=node.node_id,
                name=node.name,
                facility_id=node.facility_id,
                domain=node.domain,
                size=node.size,
                free=tuple(free),
                preemptible=tuple(preemptible),
                extends_by=max(0.0, end - release),
            )
        )
    return result


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    placement: Placement


def _node_earliest(
    node: NodeInfo,
    timelines: dict[int, Timeline],
    count: int,
    duration: float,
    earliest: float,
    latest: float,
    preempt: bool,
) -> float | None:
    """The first start in [earliest, latest] at which the node holds ``count`` GPUs."""
    empty = Timeline()
    lines = [timelines.get(gpu, empty) for gpu in node.gpu_ids]
    candidates = {earliest}
    for line in lines:
        candidates.update(line.ends_between(earliest, latest + 1e-9))
    limit = PREEMPTIBLE if preempt else FREE
    for start in sorted(candidates):
        if start > latest:
            return None
        usable = sum(line.occupancy(start, start + duration) <= limit for line in lines)
        if usable >= count:
            return start
    return None


def earliest_in_facility(
    nodes: Sequence[NodeInfo],
    timelines: dict[int, Timeline],
    count: int,
    duration: float,
    earliest: float,
    horizon: float,
    preempt: bool = False,
) -> Window | None:
    """The earliest window within ``horizon`` seconds in which the nodes hold the request."""
    latest = earliest + horizon
    if not nodes:
        return None
    if count <= max(n.size for n in nodes):
        best: float | None = None
        for node in nodes:
            if len(node.gpu_ids) < count:
                continue
            bound = latest if best is None else best
            found = _node_earliest(node, timelines, count, duration, earliest, bound, preempt)
            if found is not None and (best is None or found < best):
                best = found
                if best == earliest:
                    break
        if best is None:
            return None
        placement = place(slots_at(nodes, timelines, best, best + duration), count, preempt=preempt)
        return None if placement is None else Window(best, best + duration, placement)

    return _earliest_multi_node(nodes, timelines, count, duration, earliest, latest, preempt)


def _whole_free_starts(
    node: NodeInfo,
    timelines: dict[int, Timeline],
    duration: float,
    earliest: float,
    latest: float,
    preempt: bool,
) -> list[tuple[float, float]]:
    """The ranges of start times at which every GPU of the node is free for ``duration``."""
    if len(node.gpu_ids) < node.size:
        return []  # a GPU is out of service: never a whole node
    empty = Timeline()
    busy = sorted(
        interval
        for gpu in node.gpu_ids
        for interval in timelines.get(gpu, empty).busy_between(earliest, latest + duration, preempt)
    )
    ranges = []
    cursor = earliest
    for start, end in [*busy, (latest + duration, latest + duration)]:
        if start - cursor >= duration:
            ranges.append((cursor, min(start - duration, latest)))
        cursor = max(cursor, end)
    return ranges


def _earliest_multi_node(
    nodes: Sequence[NodeInfo],
    timelines: dict[int, Timeline],
    count: int,
    duration: float,
    earliest: float,
    latest: float,
    preempt: bool,
) -> Window | None:
    """Sweep the times at which whole nodes free up; one domain first, then the facility."""
    ranges = {
        n.node_id: _whole_free_starts(n, timelines, duration, earliest, latest, preempt)
        for n in nodes
    }
    domains: dict[str | None, list[NodeInfo]] = defaultdict(list)
    for node in nodes:
        if node.domain is not None:
            domains[node.domain].append(node)
    for groups in (list(domains.values()), [list(nodes)]):
        found = [
            w
            for group in groups
            if (w := _sweep(group, ranges, timelines, count, duration, preempt)) is not None
        ]
        if found:
            return min(found, key=lambda w: w.start)
    return None


def _sweep(
    group: Sequence[NodeInfo],
    ranges: dict[int, list[tuple[float, float]]],
    timelines: dict[int, Timeline],
    count: int,
    duration: float,
    preempt: bool,
) -> Window | None:
    if sum(n.size for n in group) < count:
        return None
    size = max(n.size for n in group)
    opened, check, closed = 0, 1, 2  # at one moment: open, then check, then close
    events = [
        (moment, kind, node.node_id)
        for node in group
        for low, high in ranges[node.node_id]
        for moment, kind in ((low, opened), (high, closed))
    ]
    if count % size:
        # the remainder may wait for part of a node: check whenever a GPU frees up
        latest = max((high for r in ranges.values() for _, high in r), default=0.0)
        starts = min((low for r in ranges.values() for low, _ in r), default=0.0)
        events += [
            (moment, check, node.node_id)
            for node in group
            for gpu in node.gpu_ids
            for moment in timelines.get(gpu, Timeline()).ends_between(starts, latest)
        ]
    events.sort()
    whole_needed = count // size
    open_nodes: set[int] = set()
    for moment, kind, node_id in events:
        if kind == closed:
            open_nodes.discard(node_id)
            continue
        if kind == opened:
            open_nodes.add(node_id)
        if len(open_nodes) < whole_needed:
            continue
        remainder = count - whole_needed * size
        if (
            remainder
            and len(open_nodes) == whole_needed
            and not _partial_node_holds(
                group, open_nodes, timelines, remainder, moment, moment + duration, preempt
            )
        ):
            continue
        placement = place(
            slots_at(group, timelines, moment, moment + duration), count, preempt=preempt
        )
        if placement is not None:
            return Window(moment, moment + duration, placement)
    return None


def _partial_node_holds(
    group: Sequence[NodeInfo],
    taken: set[int],
    timelines: dict[int, Timeline],
    count: int,
    start: float,
    end: float,
    preempt: bool,
) -> bool:
    """Whether a node outside ``taken`` has ``count`` usable GPUs in [start, end).

    The sweep's inner loop: it stops at the first node that holds them, and within a
    node at the count, which keeps the 99th percentile of searches under 100 ms.
    """
    limit = PREEMPTIBLE if preempt else FREE
    empty = Timeline()
    for node in group:
        if node.node_id in taken or len(node.gpu_ids) < count:
            continue
        usable = 0
        for gpu in node.gpu_ids:
            if timelines.get(gpu, empty).occupancy(start, end) <= limit:
                usable += 1
                if usable >= count:
                    return True
    return False


def earliest_windows(
    nodes: Sequence[NodeInfo],
    timelines: dict[int, Timeline],
    count: int,
    duration: float,
    earliest: float,
    horizon: float,
    limit: int,
    preempt: bool = False,
) -> list[Window]:
    """Up to ``limit`` windows, the earliest one of each facility, earliest first."""
    by_facility: dict[int, list[NodeInfo]] = defaultdict(list)
    for node in nodes:
        by_facility[node.facility_id].append(node)
    windows = []
    for facility_nodes in by_facility.values():
        window = earliest_in_facility(
            facility_nodes, timelines, count, duration, earliest, horizon, preempt
        )
        if window is not None:
            windows.append(window)
    windows.sort(key=lambda w: (w.start, w.placement.facility_id))
    return windows[:limit]
