"""What is free in a window: the layout's nodes, and what holds their GPUs, read now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gpurent.fleet.models import Gpu
from gpurent.leases.availability import NodeInfo
from gpurent.leases.models import Allocation
from gpurent.leases.placement import NodeSlots


def window_slots(
    session: Session,
    nodes: Sequence[NodeInfo],
    model_id: int,
    start: datetime,
    end: datetime,
    *,
    exclude_lease_id: int | None = None,
) -> list[NodeSlots]:
    """Each node's GPUs of a model that are free (or only interruptibly held) in a window.

    ``nodes`` is the fleet's layout; what holds GPUs in the window is read now.
    """
    held = (
        select(
            Allocation.gpu_id,
            func.min(case((Allocation.preemptible, 1), else_=0)),
            func.max(Allocation.ends_at),
        )
        .join(Allocation.gpu)
        .where(
            Allocation.live,
            Gpu.model_id == model_id,
            Allocation.starts_at < end,
            Allocation.ends_at > start,
        )
        .group_by(Allocation.gpu_id)
    )
    if exclude_lease_id is not None:
        held = held.where(Allocation.lease_id != exclude_lease_id)
    holders: dict[int, tuple[bool, datetime]] = {
        gpu_id: (bool(only_preemptible), last_end)
        for gpu_id, only_preemptible, last_end in session.execute(held)
    }
    slots = []
    for node in nodes:
        free: list[int] = []
        preemptible: list[int] = []
        release = start  # when what already holds the node's GPUs lets go
        for gpu_id in node.gpu_ids:
            holder = holders.get(gpu_id)
            if holder is None:
                free.append(gpu_id)
                continue
            release = max(release, holder[1])
            if holder[0]:
                preemptible.append(gpu_id)
        slots.append(
            NodeSlots(
                node.node_id,
                node.name,
                node.facility_id,
                node.domain,
                node.size,  # counts GPUs in maintenance too: they make a node not whole
                tuple(free),
                tuple(preemptible),
                extends_by=max(0.0, (end - release).total_seconds()),
            )
        )
    return slots
