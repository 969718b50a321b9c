"""What is free in a window: the cached layout's nodes, and what holds their GPUs, read now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from gpurent.fleet.models import FleetRevision, Gpu
from gpurent.leases.index import FleetCache, FleetLayout
from gpurent.leases.models import Allocation
from gpurent.leases.placement import NodeSlots


def read_holders(
    session: Session,
    model_id: int,
    start: datetime,
    end: datetime,
    *,
    exclude_lease_id: int | None = None,
) -> tuple[int, dict[int, tuple[bool, datetime]]]:
    """The fleet revision, and what holds GPUs of a model in a window, in one round trip.

    Holders map a GPU id to (held only by interruptible leases, when the last one ends).
    """
    held = (
        select(
            Allocation.gpu_id.label("gpu_id"),
            func.min(case((Allocation.preemptible, 1), else_=0)).label("only_preemptible"),
            func.max(Allocation.ends_at).label("last_end"),
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
    holders_query = held.subquery()
    # The revision row joined to every holder (or alone, when nothing is held).
    rows = session.execute(
        select(
            FleetRevision.value,
            holders_query.c.gpu_id,
            holders_query.c.only_preemptible,
            holders_query.c.last_end,
        )
        .select_from(FleetRevision)
        .outerjoin(holders_query, true())
    ).all()
    revision = rows[0][0] if rows else 0
    holders = {
        gpu_id: (bool(only_preemptible), last_end)
        for _, gpu_id, only_preemptible, last_end in rows
        if gpu_id is not None
    }
    return revision, holders


def window_slots(
    session: Session,
    fleet: FleetCache,
    model_id: int,
    start: datetime,
    end: datetime,
    *,
    facility_id: int | None = None,
    country: str | None = None,
    exclude_lease_id: int | None = None,
) -> tuple[FleetLayout, list[NodeSlots]]:
    """Each node's GPUs of a model that are free (or only interruptibly held) in a window.

    What holds the GPUs is read now; the layout is the cached one for the revision read
    with it (reloaded if it moved).
    """
    revision, holders = read_holders(
        session, model_id, start, end, exclude_lease_id=exclude_lease_id
    )
    layout = fleet.at_revision(session, revision)
    nodes = layout.select(model_id, facility_id=facility_id, country=country)
    slots = []
    for fleet_node in nodes:
        node = fleet_node.info
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
    return layout, slots
