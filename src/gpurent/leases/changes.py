"""Moving a lease's end: extend or shorten, never onto GPUs someone else holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.leases.models import Allocation, Lease
from gpurent.leases.preemption import preempt
from gpurent.leases.schemas import EndChange
from gpurent.leases.states import HOLDING
from gpurent.leases.status import record_event
from gpurent.leases.window import LeaseLimits
from gpurent.timeutil import as_utc, utcnow


def lock_lease(session: Session, lease_id: int) -> Lease:
    lease = session.scalars(
        select(Lease)
        .where(Lease.id == lease_id)
        .options(selectinload(Lease.allocations))
        .with_for_update()
    ).one_or_none()
    if lease is None:
        raise NotFoundError(f"no lease {lease_id}")
    return lease


def change_end(
    session: Session,
    lease_id: int,
    new_end: datetime,
    *,
    actor: str,
    limits: LeaseLimits | None = None,
    now: datetime | None = None,
) -> Lease:
    """Extend or shorten a lease that still holds its GPUs."""
    limits = limits or LeaseLimits()
    now = now or utcnow()
    new_end = as_utc(new_end)
    begin_write(session)
    try:
        lease = lock_lease(session, lease_id)
        _move_end(session, lease, new_end, limits, now, actor)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError("the extension collides with another booking") from exc
    except BaseException:
        session.rollback()
        raise
    return lease


def _move_end(
    session: Session,
    lease: Lease,
    new_end: datetime,
    limits: LeaseLimits,
    now: datetime,
    actor: str,
) -> None:
    if lease.status not in HOLDING:
        raise ConflictError(f"lease {lease.id} is {lease.status}: its end cannot move")
    old_end = lease.ends_at
    if new_end <= max(now, lease.starts_at):
        raise InvalidInputError(
            "the new end must be after the lease's start and in the future", fields=["end"]
        )
    if new_end - lease.starts_at > limits.max_window:
        raise InvalidInputError(
            f"a window may last at most {limits.max_window.days} days", fields=["end"]
        )
    if new_end == old_end:
        raise InvalidInputError("the lease already ends then", fields=["end"])
    gpu_ids = tuple(a.gpu_id for a in lease.allocations if a.live)
    if new_end > old_end:
        _clear_extension(session, lease, gpu_ids, old_end, new_end, now, actor)
        lease.before_end_notified = False
    for allocation in lease.allocations:
        if allocation.live:
            allocation.ends_at = new_end
    lease.ends_at = new_end
    kind = "extended" if new_end > old_end else "shortened"
    record_event(
        session,
        lease,
        kind,
        actor=actor,
        detail=f"end {old_end.isoformat()} -> {new_end.isoformat()}",
    )
    session.flush()


def _clear_extension(
    session: Session,
    lease: Lease,
    gpu_ids: tuple[int, ...],
    old_end: datetime,
    new_end: datetime,
    now: datetime,
    actor: str,
) -> None:
    others = session.execute(
        select(Allocation.lease_id, Allocation.gpu_id, Allocation.preemptible).where(
            Allocation.live,
            Allocation.gpu_id.in_(gpu_ids),
            Allocation.lease_id != lease.id,
            Allocation.starts_at < new_end,
            Allocation.ends_at > old_end,
        )
    ).all()
    blocking = [o for o in others if not o.preemptible or lease.term.preemptible]
    if blocking:
        first = blocking[0]
        raise ConflictError(
            f"the extension collides with another lease on GPU {first.gpu_id}",
            fields=["end"],
        )
    if others:
        preempt(session, tuple({o.gpu_id for o in others}), old_end, new_end, lease.id, now, actor)


def requested_end(session: Session, lease_id: int, change: EndChange, *, longer: bool) -> datetime:
    """The new end asked for: an explicit end, or the current end moved by some hours."""
    if (change.end is None) == (change.hours is None):
        raise InvalidInputError("give 'end' or 'hours'", fields=["end", "hours"])
    if change.end is not None:
        return as_utc(change.end)
    lease = session.get(Lease, lease_id)
    if lease is None:
        raise NotFoundError(f"no lease {lease_id}")
    assert change.hours is not None
    delta = timedelta(hours=float(change.hours))
    return lease.ends_at + delta if longer else lease.ends_at - delta
