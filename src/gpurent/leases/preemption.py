"""Interruptible leases yielding their GPUs to on-demand and reserved leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gpurent.leases.models import Allocation, Lease
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status, record_event


def preempt(
    session: Session,
    gpu_ids: tuple[int, ...],
    start: datetime,
    end: datetime,
    by_lease_id: int,
    now: datetime,
    actor: str,
) -> None:
    """Interruptible leases holding these GPUs in [start, end) yield them from ``start``."""
    victims = session.scalars(
        select(Lease)
        .join(Allocation)
        .where(
            Allocation.live,
            Allocation.preemptible,
            Allocation.gpu_id.in_(gpu_ids),
            Allocation.starts_at < end,
            Allocation.ends_at > start,
        )
        .options(selectinload(Lease.allocations))
        .distinct()
    ).all()
    for victim in victims:
        cut = max(victim.starts_at, start)
        for allocation in victim.allocations:
            if not allocation.live:
                continue
            if allocation.starts_at >= cut:
                allocation.live = False
            else:
                allocation.ends_at = min(allocation.ends_at, cut)
        victim.ends_at = cut
        victim.preempted_at = now
        record_event(
            session,
            victim,
            "preemption_notice",
            actor=actor,
            # Renters read this: it names neither the other lease nor its customer.
            detail=f"GPUs needed by another lease; this lease ends at {cut.isoformat()}",
        )
        never_ran = cut <= victim.starts_at and victim.status != LeaseStatus.ACTIVE
        if never_ran or (victim.status == LeaseStatus.ACTIVE and cut <= now):
            change_status(session, victim, LeaseStatus.PREEMPTED, actor=actor)
    session.flush()  # trimmed allocations before the new ones: the constraint checks each row
