"""Choosing GPUs for a request: pure functions over what is free in a window.

The policy, and why:
- A request that fits on one node goes on one node. Whole free nodes are kept for large
  requests; among partly used nodes it takes the one it keeps busy the least longer
  (its other GPUs are held until about when this request ends), then the one it fills
  best. Nodes then free up whole, together, instead of in scattered GPUs.
- A larger request takes whole nodes, plus one node for the remainder, all in one
  facility; one interconnect domain is preferred whenever one can hold it.
- GPUs held only by interruptible leases count as usable for on-demand and reserved
  requests, but cost more than free ones: preemption is the last resort.
``first_fit`` is the baseline the benchmark compares against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSlots:
    """One node as seen for one window."""

    node_id: int
    name: str
    facility_id: int
    domain: str | None
    size: int  # GPUs of the model on the node, usable or not (retired ones excepted)
    free: tuple[int, ...]  # GPU ids free for the whole window
    preemptible: tuple[int, ...] = ()  # GPU ids held only by interruptible leases
    # how much longer (seconds) the node stays busy if the request lands on it: the
    # window's end minus the latest end of what already holds the node's GPUs
    extends_by: float = 0.0


@dataclass(frozen=True)
class Placement:
    facility_id: int
    gpu_ids: tuple[int, ...]
    preempt_gpu_ids: tuple[int, ...]  # the subset taken from interruptible leases
    node_ids: tuple[int, ...]


def _usable(node: NodeSlots, preempt: bool) -> tuple[int, ...]:
    return node.free + node.preemptible if preempt else node.free


def _take(node: NodeSlots, count: int, preempt: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    taken = _usable(node, preempt)[:count]
    return taken, tuple(g for g in taken if g in node.preemptible)


def _best_single(
    nodes: Iterable[NodeSlots], count: int, preempt: bool, exclude: frozenset[int] = frozenset()
) -> NodeSlots | None:
    """The node for ``count``: fewest preemptions, not a whole node, least extension, tightest."""
    best: tuple[int, bool, float, int, str] | None = None
    chosen = None
    for node in nodes:
        usable = len(_usable(node, preempt))
        if node.node_id in exclude or usable < count:
            continue
        whole = usable == node.size
        key = (max(0, count - len(node.free)), whole, node.extends_by, usable - count, node.name)
        if best is None or key < best:
            best, chosen = key, node
    return chosen


def _group_plan(
    nodes: Sequence[NodeSlots], count: int, preempt: bool
) -> tuple[list[tuple[NodeSlots, int]], int] | None:
    """Whole nodes plus a remainder node within one group; None if it cannot hold ``count``.

    Returns the plan and its cost (GPUs preempted), preferring nodes that need no
    preemption.
    """
    whole = sorted(
        (n for n in nodes if len(_usable(n, preempt)) == n.size and n.size > 0),
        key=lambda n: (len(n.preemptible) if preempt else 0, -n.size, n.name),
    )
    plan: list[tuple[NodeSlots, int]] = []
    remaining = count
    for node in whole:
        if remaining < node.size:
            continue
        plan.append((node, node.size))
        remaining -= node.size
        if remaining == 0:
            break
    if remaining:
        used = frozenset(n.node_id for n, _ in plan)
        tail = _best_single(nodes, remaining, preempt, exclude=used)
        if tail is None:
            return None
        plan.append((tail, remaining))
    cost = sum(max(0, take - len(node.free)) for node, take in plan)
    return plan, cost


def _plan_to_placement(plan: list[tuple[NodeSlots, int]], preempt: bool) -> Placement:
    gpu_ids: list[int] = []
    preempted: list[int] = []
    for node, take in plan:
        taken, from_preemptible = _take(node, take, preempt)
        gpu_ids += taken
        preempted += from_preemptible
    return Placement(
        facility_id=plan[0][0].facility_id,
        gpu_ids=tuple(gpu_ids),
        preempt_gpu_ids=tuple(preempted),
        node_ids=tuple(node.node_id for node, _ in plan),
    )


def place(nodes: Sequence[NodeSlots], count: int, *, preempt: bool = False) -> Placement | None:
    """Where ``count`` GPUs go in this window, or None if they do not fit."""
    if count <= 0 or not nodes:
        return None
    if count <= max(node.size for node in nodes):
        single = _best_single(nodes, count, preempt)
        if single is None:
            return None
        return _plan_to_placement([(single, count)], preempt)

    by_domain: dict[tuple[int, str | None], list[NodeSlots]] = defaultdict(list)
    by_facility: dict[int, list[NodeSlots]] = defaultdict(list)
    for node in nodes:
        by_facility[node.facility_id].append(node)
        if node.domain is not None:
            by_domain[node.facility_id, node.domain].append(node)
    for groups in (by_domain.values(), by_facility.values()):
        best: tuple[tuple[int, int, int], list[tuple[NodeSlots, int]]] | None = None
        for group in groups:
            planned = _group_plan(group, count, preempt)
            if planned is None:
                continue
            plan, cost = planned
            spare = sum(len(n.free) for n in group) - count  # best fit between groups
            key = (cost, spare, plan[0][0].node_id)
            if best is None or key < best[0]:
                best = (key, plan)
        if best is not None:
            return _plan_to_placement(best[1], preempt)
    return None


def first_fit(nodes: Sequence[NodeSlots], count: int) -> Placement | None:
    """The baseline: the first node with room, or the first whole nodes in fleet order."""
    if count <= 0 or not nodes:
        return None
    ordered = sorted(nodes, key=lambda n: n.node_id)
    if count <= max(n.size for n in nodes):
        for node in ordered:
            if len(node.free) >= count:
                return _plan_to_placement([(node, count)], False)
        return None
    by_facility: dict[int, list[NodeSlots]] = defaultdict(list)
    for node in ordered:
        by_facility[node.facility_id].append(node)
    for group in by_facility.values():
        plan: list[tuple[NodeSlots, int]] = []
        remaining = count
        for node in group:
            take = min(len(node.free), remaining)
            if take and (take == node.size or take == remaining):
                plan.append((node, take))
                remaining -= take
            if remaining == 0:
                return _plan_to_placement(plan, False)
    return None
