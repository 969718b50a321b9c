"""What the worker does to leases over time: start, warn, end, and move off failed GPUs.

Every step claims its rows in the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
serialized write transaction on SQLite) and re-checks the status through the transition
table, so that several workers on one database do each transition exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from gpurent.db.engine import begin_write
from gpurent.fleet.models import Gpu
from gpurent.fleet.states import GpuState
from gpurent.leases.index import FleetCache
from gpurent.leases.models import Allocation, Lease
from gpurent.leases.placement import place
from gpurent.leases.slots import window_slots
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status, record_event

BATCH = 200
WORKER_ACTOR = "worker"
UNUSABLE = (GpuState.FAILED, GpuState.RETIRED)


@dataclass
class LifecycleReport:
    started: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(map(len, (self.started, self.ended, self.notified, self.replaced, self.flagged)))


def _claim(session: Session, statement: Select[Any]) -> Sequence[Lease]:
    return session.scalars(statement.with_for_update(skip_locked=True).limit(BATCH)).all()


def start_due(session: Session, now: datetime) -> list[int]:
    begin_write(session)
    leases = _claim(
        session,
        select(Lease)
        .where(Lease.status == LeaseStatus.SCHEDULED, Lease.starts_at <= now)
        .order_by(Lease.starts_at),
    )
    for lease in leases:
        change_status(session, lease, LeaseStatus.ACTIVE, actor=WORKER_ACTOR)
    session.commit()
    return [lease.id for lease in leases]


def end_due(session: Session, now: datetime) -> list[int]:
    begin_write(session)
    leases = _claim(
        session,
        select(Lease)
        .where(Lease.status == LeaseStatus.ACTIVE, Lease.ends_at <= now)
        .order_by(Lease.ends_at),
    )
    for lease in leases:
        target = LeaseStatus.PREEMPTED if lease.preempted_at else LeaseStatus.ENDED
        change_status(session, lease, target, actor=WORKER_ACTOR, detail="reached its end")
    session.commit()
    return [lease.id for lease in leases]


def notify_before_end(session: Session, now: datetime, notice: timedelta) -> list[int]:
    begin_write(session)
    leases = _claim(
        session,
        select(Lease).where(
            Lease.status == LeaseStatus.ACTIVE,
            Lease.before_end_notified.is_(False),
            Lease.ends_at <= now + notice,
        ),
    )
    for lease in leases:
        lease.before_end_notified = True
        record_event(
            session,
            lease,
            "before_end",
            actor=WORKER_ACTOR,
            detail=f"ends at {lease.ends_at.isoformat()}",
        )
    session.commit()
    return [lease.id for lease in leases]


def replace_off_unusable_gpus(
    session: Session, now: datetime, report: LifecycleReport, fleet: FleetCache
) -> None:
    """Future leases holding a failed or retired GPU move to healthy GPUs, or are flagged."""
    candidates = session.scalars(
        select(Lease.id)
        .join(Allocation)
        .join(Allocation.gpu)
        .where(
            Allocation.live,
            Gpu.state.in_(UNUSABLE),
            Lease.status.in_((LeaseStatus.SCHEDULED, LeaseStatus.PENDING_REVIEW)),
            Lease.starts_at > now,
        )
        .distinct()
    ).all()
    session.rollback()
    for lease_id in candidates:
        begin_write(session)
        try:
            claimed = _claim(
                session,
                select(Lease)
                .where(Lease.id == lease_id, Lease.starts_at > now)
                .options(selectinload(Lease.allocations).selectinload(Allocation.gpu)),
            )
            outcome = _replace(session, claimed[0], fleet) if claimed else None
            if outcome == "moved":
                report.replaced.append(lease_id)
            elif outcome == "flagged":
                report.flagged.append(lease_id)
            session.commit()
        except IntegrityError:
            session.rollback()  # someone booked the GPUs meanwhile: try on the next round


def _replace(session: Session, lease: Lease, fleet: FleetCache) -> str | None:
    """ "moved", "flagged" (newly), or None when nothing changed."""
    held = [a for a in lease.allocations if a.live]
    if not any(a.gpu.state in UNUSABLE for a in held):
        return None
    for allocation in held:
        allocation.live = False
    session.flush()
    _, slots = window_slots(
        session,
        fleet,
        lease.gpu_model_id,
        lease.starts_at,
        lease.ends_at,
        facility_id=lease.facility_id,
    )
    placement = place(slots, lease.gpus, preempt=not lease.term.preemptible)
    if placement is None or placement.preempt_gpu_ids:
        for allocation in held:
            allocation.live = True
        message = "a GPU of this lease failed and no healthy GPUs are free in its window"
        if lease.flag == message:
            return None
        lease.flag = message
        record_event(session, lease, "flagged", actor=WORKER_ACTOR, detail=message)
        return "flagged"
    old = ", ".join(a.gpu.address for a in held)
    session.add_all(
        Allocation(
            lease_id=lease.id,
            gpu_id=gpu_id,
            starts_at=lease.starts_at,
            ends_at=lease.ends_at,
            preemptible=lease.term.preemptible,
        )
        for gpu_id in placement.gpu_ids
    )
    lease.flag = None
    record_event(
        session,
        lease,
        "replaced",
        actor=WORKER_ACTOR,
        detail=f"moved off failed GPUs: was on {old}; now GPU ids "
        f"{', '.join(map(str, placement.gpu_ids))}",
    )
    session.flush()
    return "moved"


def run_due(
    session: Session, now: datetime, notice: timedelta, fleet: FleetCache | None = None
) -> LifecycleReport:
    """One round of every lifecycle step, each in its own short transaction."""
    report = LifecycleReport()
    report.started = start_due(session, now)
    report.notified = notify_before_end(session, now, notice)
    report.ended = end_due(session, now)
    replace_off_unusable_gpus(session, now, report, fleet or FleetCache())
    return report
