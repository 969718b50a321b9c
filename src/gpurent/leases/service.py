"""Lease use cases besides booking: reading, releasing, cancelling, and what they cost."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from gpurent.catalog.models import GpuModel
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, NotFoundError
from gpurent.fleet.models import Gpu
from gpurent.leases.changes import lock_lease
from gpurent.leases.models import Allocation, Lease, LeaseEvent
from gpurent.leases.schemas import LeaseEventOut, LeaseOut, LeasePrice
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.offers.pricing import Rates, price
from gpurent.offers.terms import Term
from gpurent.timeutil import utcnow

_LEASE_DETAIL = (
    joinedload(Lease.gpu_model),
    joinedload(Lease.facility),
    selectinload(Lease.allocations).joinedload(Allocation.gpu).joinedload(Gpu.node),
)


def get_lease(session: Session, lease_id: int) -> Lease:
    lease = session.scalars(
        select(Lease).where(Lease.id == lease_id).options(*_LEASE_DETAIL)
    ).one_or_none()
    if lease is None:
        raise NotFoundError(f"no lease {lease_id}")
    return lease


def list_leases(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    status: LeaseStatus | None = None,
    organization_id: int | None = None,
) -> tuple[list[Lease], int]:
    statement = select(Lease)
    if organization_id is not None:
        statement = statement.where(Lease.organization_id == organization_id)
    if status is not None:
        statement = statement.where(Lease.status == status)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = statement.options(*_LEASE_DETAIL).order_by(Lease.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def lease_counts(session: Session) -> list[tuple[str, str, int, int]]:
    """(status, model, leases, GPUs) for every combination present."""
    statement = (
        select(Lease.status, GpuModel.name, func.count(Lease.id), func.sum(Lease.gpus))
        .join(Lease.gpu_model)
        .group_by(Lease.status, GpuModel.name)
    )
    return [
        (str(status), model, count, int(gpus or 0))
        for status, model, count, gpus in session.execute(statement)
    ]


def lease_events(session: Session, lease_id: int) -> list[LeaseEvent]:
    get_lease(session, lease_id)
    statement = select(LeaseEvent).where(LeaseEvent.lease_id == lease_id).order_by(LeaseEvent.id)
    return list(session.scalars(statement))


def _trim_to(lease: Lease, moment: datetime) -> None:
    for allocation in lease.allocations:
        if allocation.live:
            allocation.ends_at = max(allocation.starts_at, min(allocation.ends_at, moment))
    lease.ends_at = max(lease.starts_at, min(lease.ends_at, moment))


def release_lease(session: Session, lease_id: int, *, actor: str) -> Lease:
    """End a lease now: an active one ends early, one that has not started is cancelled."""
    begin_write(session)
    try:
        lease = lock_lease(session, lease_id)
        if lease.status == LeaseStatus.ACTIVE:
            _trim_to(lease, utcnow())
            change_status(session, lease, LeaseStatus.ENDED, actor=actor, detail="released early")
        else:
            _cancel(session, lease, actor)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return get_lease(session, lease_id)


def cancel_lease(session: Session, lease_id: int, *, actor: str) -> Lease:
    """Withdraw a lease that has not started; its GPUs are free again at once."""
    begin_write(session)
    try:
        _cancel(session, lock_lease(session, lease_id), actor)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return get_lease(session, lease_id)


def _cancel(session: Session, lease: Lease, actor: str) -> None:
    if lease.status == LeaseStatus.ACTIVE:
        raise ConflictError(f"lease {lease.id} is active: release it instead of cancelling")
    change_status(session, lease, LeaseStatus.CANCELLED, actor=actor)
    for allocation in lease.allocations:
        allocation.live = False


def lease_rates(lease: Lease) -> Rates:
    return Rates(
        currency=lease.currency,
        on_demand=lease.hourly_rate,
        interruptible=lease.hourly_rate,
        reserved_discounts={},
        granularity_seconds=lease.granularity_seconds,
        minimum_seconds=lease.minimum_seconds,
    )


def lease_price(lease: Lease, now: datetime | None = None) -> LeasePrice:
    """What the lease costs: its whole window, or so far for an open-ended one."""
    end = lease.ends_at
    if lease.open_ended and lease.status == LeaseStatus.ACTIVE:
        end = min(end, max(lease.starts_at, now or utcnow()))
    if lease.status in (LeaseStatus.CANCELLED, LeaseStatus.REJECTED):
        end = lease.starts_at
    seconds = math.ceil((end - lease.starts_at).total_seconds())
    if seconds == 0:  # never ran: nothing to pay, not even the minimum
        return LeasePrice(
            currency=lease.currency,
            hourly_per_gpu=lease.hourly_rate.normalize(),
            billable_seconds=0,
            total=Decimal("0.00"),
        )
    # The rate was fixed at booking, discount included: price it as a plain hourly rate.
    result = price(lease_rates(lease), term=Term.ON_DEMAND, gpus=lease.gpus, seconds=seconds)
    return LeasePrice(
        currency=lease.currency,
        hourly_per_gpu=lease.hourly_rate.normalize(),
        billable_seconds=result.billable_seconds,
        total=result.total,
    )


def lease_out(lease: Lease, addresses: dict[int, str] | None = None) -> LeaseOut:
    """The lease as the API shows it; ``addresses`` (gpu id -> node/index) saves queries."""
    held = [a for a in lease.allocations if a.live] or lease.allocations
    known = addresses or {}
    return LeaseOut(
        id=lease.id,
        organization_id=lease.organization_id,
        status=lease.status,
        gpu_model=lease.gpu_model.name,
        gpus=lease.gpus,
        term=lease.term,
        months=lease.months,
        open_ended=lease.open_ended,
        facility=lease.facility.name,
        country=lease.facility.country,
        start=lease.starts_at,
        end=lease.ends_at,
        gpu_ids=[a.gpu_id for a in held],
        gpu_addresses=[known.get(a.gpu_id) or _address(a) for a in held],
        flag=lease.flag,
        price=lease_price(lease),
        created_at=lease.created_at,
    )


def event_out(event: LeaseEvent, actor: str | None = None) -> LeaseEventOut:
    """`actor`: who acted as the reader may see it (default: as recorded)."""
    return LeaseEventOut(
        at=event.at,
        kind=event.kind,
        from_status=event.from_status,
        to_status=event.to_status,
        detail=event.detail,
        actor=event.actor if actor is None else actor,
    )


def _address(allocation: Allocation) -> str:
    return allocation.gpu.address if allocation.gpu is not None else f"gpu {allocation.gpu_id}"


def holding_now(session: Session, gpu_id: int, now: datetime | None = None) -> list[Lease]:
    """The active leases that hold the GPU at this moment."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Lease)
            .join(Allocation, Allocation.lease_id == Lease.id)
            .where(
                Allocation.gpu_id == gpu_id,
                Allocation.live,
                Allocation.starts_at <= now,
                Allocation.ends_at > now,
                Lease.status == LeaseStatus.ACTIVE,
            )
            .order_by(Lease.id)
        )
    )


def refuse_if_held(session: Session, gpu_id: int, address: str, target: str) -> None:
    """Taking a GPU out of service under a running lease is a deliberate act: refused,
    naming the lease, unless forced."""
    held = holding_now(session, gpu_id)
    if held and target in ("maintenance", "failed", "retired"):
        lease = held[0]
        raise ConflictError(
            f"GPU {address} is held by lease {lease.id} until {lease.ends_at:%Y-%m-%dT%H:%MZ};"
            ' force the change (--force, or "force": true) to proceed',
            fields=["force"],
        )
