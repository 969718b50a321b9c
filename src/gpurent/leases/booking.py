"""Booking GPUs: creating leases and moving their ends, without ever selling a GPU twice.

Each booking is one write transaction that reads what is free, places the request and
inserts its allocations. On SQLite the transaction is serialized (``begin_write``); on
PostgreSQL the exclusion constraint refuses an overlap, and the booking is placed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from gpurent.catalog import service as catalog_service
from gpurent.catalog.models import GpuModel
from gpurent.config import Settings
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.fleet.models import Facility, Gpu
from gpurent.leases.availability import NodeInfo
from gpurent.leases.index import FleetCache, FleetLayout
from gpurent.leases.models import Allocation, Lease, LeaseEvent
from gpurent.leases.placement import NodeSlots, place
from gpurent.leases.schemas import EndChange, LeaseRequest
from gpurent.leases.states import HOLDING, LeaseStatus
from gpurent.leases.status import change_status, record_event
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months, as_utc, utcnow

PLACEMENT_ATTEMPTS = 5
EXCLUSION_VIOLATION = "23P01"  # PostgreSQL SQLSTATE


class NoCapacityError(ConflictError):
    code = "no_capacity"


@dataclass(frozen=True)
class LeaseLimits:
    max_open: timedelta = timedelta(hours=168)
    max_window: timedelta = timedelta(days=400)
    past_grace: timedelta = timedelta(seconds=60)

    @classmethod
    def of(cls, settings: Settings) -> LeaseLimits:
        return cls(max_open=timedelta(hours=settings.lease_max_open_hours))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    open_ended: bool


def resolve_window(request: LeaseRequest, now: datetime, limits: LeaseLimits) -> Window:
    start = as_utc(request.start) if request.start else now
    if start < now - limits.past_grace:
        raise InvalidInputError("the window starts in the past", fields=["start"])
    if request.term is Term.RESERVED:
        if request.months is None:
            raise InvalidInputError("a reserved lease needs 'months'", fields=["months"])
        if request.end or request.hours:
            raise InvalidInputError(
                "a reserved lease ends 'months' after its start: give no end or hours",
                fields=["end"],
            )
        return Window(start, add_months(start, request.months), False)
    if request.months is not None:
        raise InvalidInputError("'months' is for reserved terms", fields=["months"])
    if request.end and request.hours:
        raise InvalidInputError("give 'end' or 'hours', not both", fields=["end", "hours"])
    if request.end:
        end, open_ended = as_utc(request.end), False
    elif request.hours:
        end, open_ended = start + timedelta(hours=float(request.hours)), False
    else:
        end, open_ended = start + limits.max_open, True
    if end <= start:
        raise InvalidInputError("the window ends before it starts", fields=["end"])
    if end - start > limits.max_window:
        raise InvalidInputError(
            f"a window may last at most {limits.max_window.days} days", fields=["end"]
        )
    return Window(start, end, open_ended)


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


def _fingerprint(request: LeaseRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _by_key(session: Session, key: str) -> Lease | None:
    return session.scalars(select(Lease).where(Lease.idempotency_key == key)).one_or_none()


def _replay(lease: Lease, fingerprint: str) -> Lease:
    if lease.request_fingerprint != fingerprint:
        raise ConflictError(
            "this Idempotency-Key was used for a different request", fields=["Idempotency-Key"]
        )
    return lease


def _check_capacity(slots: list[NodeSlots], model: GpuModel, count: int) -> None:
    """Refuse a count that no facility could ever hold, even with every GPU free."""
    sizes: dict[int, int] = {}
    for node in slots:
        sizes[node.facility_id] = sizes.get(node.facility_id, 0) + node.size
    largest = max(sizes.values(), default=0)
    if count > largest:
        raise InvalidInputError(
            f"no facility has {count} GPUs of {model.name} (largest: {largest})", fields=["gpus"]
        )


def _model_named(session: Session, layout: FleetLayout, name: str) -> GpuModel:
    """The model from the cached layout (no query), or from the catalog if not there."""
    known = layout.models.get(name.lower())
    if known is None:
        return catalog_service.get_model(session, name)
    return GpuModel(id=known[0], name=known[1])  # detached: only its id and name are read


def _facility_named(session: Session, name: str | None) -> Facility | None:
    if name is None:
        return None
    facility = session.scalars(select(Facility).where(Facility.name == name)).one_or_none()
    if facility is None:
        raise NotFoundError(f"no facility {name!r}", fields=["facility"])
    return facility


def request_lease(
    session: Session,
    request: LeaseRequest,
    *,
    actor: str,
    idempotency_key: str | None = None,
    limits: LeaseLimits | None = None,
    now: datetime | None = None,
    fleet: FleetCache | None = None,
) -> tuple[Lease, bool]:
    """Book a lease; returns it and whether it is the replay of an earlier request."""
    limits = limits or LeaseLimits()
    fleet = fleet or FleetCache()
    now = now or utcnow()
    fingerprint = _fingerprint(request)
    window = resolve_window(request, now, limits)
    session.rollback()  # the booking starts its own (write) transaction

    for attempt in range(PLACEMENT_ATTEMPTS):
        begin_write(session)
        try:
            if idempotency_key and (earlier := _by_key(session, idempotency_key)):
                session.commit()  # nothing written: ends the write transaction early
                return _replay(earlier, fingerprint), True
            layout = fleet.layout(session)
            model = _model_named(session, layout, request.gpu_model)
            facility = _facility_named(session, request.facility)
            facility_id = facility.id if facility else None
            lease = _book(
                session,
                layout,
                request,
                model,
                window,
                facility_id,
                now,
                actor,
                (idempotency_key, fingerprint),
            )
            session.commit()
            return lease, False
        except IntegrityError as exc:
            session.rollback()
            if idempotency_key and (earlier := _by_key(session, idempotency_key)):
                return _replay(earlier, fingerprint), True
            session.rollback()  # the next attempt begins its own write transaction
            overlap = getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION
            if not overlap or attempt == PLACEMENT_ATTEMPTS - 1:
                raise ConflictError("the GPUs were taken meanwhile; try again") from exc
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _book(
    session: Session,
    layout: FleetLayout,
    request: LeaseRequest,
    model: GpuModel,
    window: Window,
    facility_id: int | None,
    now: datetime,
    actor: str,
    idempotency: tuple[str | None, str],
) -> Lease:
    """Place and insert one lease; the hot path, so plain INSERTs rather than the ORM's
    unit of work. Returns the lease as a detached object for the response."""
    nodes = layout.select(model.id, facility_id=facility_id, country=request.country)
    slots = window_slots(session, [n.info for n in nodes], model.id, window.start, window.end)
    _check_capacity(slots, model, request.gpus)
    placement = place(slots, request.gpus, preempt=not request.term.preemptible)
    if placement is None:
        raise NoCapacityError(
            f"{request.gpus} x {model.name} are not free from {window.start.isoformat()} to "
            f"{window.end.isoformat()}; GET /v1/availability finds the earliest window",
            fields=["start"],
        )
    facility_name, country = layout.facilities[placement.facility_id]
    rates = layout.rates_for(model.id, placement.facility_id)
    if rates is None:
        raise NotFoundError(f"no offer for {model.name} in {facility_name}", fields=["gpu_model"])
    try:
        hourly = rates.hourly(request.term, request.months)
    except ValueError as exc:
        raise InvalidInputError(str(exc), fields=["term"]) from exc
    status = LeaseStatus.ACTIVE if window.start <= now else LeaseStatus.SCHEDULED
    values = {
        "gpu_model_id": model.id,
        "facility_id": placement.facility_id,
        "gpus": request.gpus,
        "term": request.term,
        "months": request.months,
        "open_ended": window.open_ended,
        "starts_at": window.start,
        "ends_at": window.end,
        "status": status,
        "status_changed_at": now,
        "before_end_notified": False,
        "currency": rates.currency,
        "hourly_rate": hourly,
        "granularity_seconds": rates.granularity_seconds,
        "minimum_seconds": rates.minimum_seconds,
        "idempotency_key": idempotency[0],
        "request_fingerprint": idempotency[1],
        "created_at": now,
    }
    connection = session.connection()  # plain statements: no unit of work on the hot path
    lease_id = connection.execute(insert(Lease).values(values).returning(Lease.id)).scalar_one()
    if placement.preempt_gpu_ids:
        preempt(session, placement.preempt_gpu_ids, window.start, window.end, lease_id, now, actor)
    allocations = [
        {
            "lease_id": lease_id,
            "gpu_id": gpu_id,
            "starts_at": window.start,
            "ends_at": window.end,
            "live": True,
            "preemptible": request.term.preemptible,
            # the time of writing, not of the request: searches refresh by it
            "updated_at": utcnow(),
        }
        for gpu_id in placement.gpu_ids
    ]
    connection.execute(insert(Allocation), allocations)
    connection.execute(
        insert(LeaseEvent).values(
            lease_id=lease_id,
            at=now,
            kind="created",
            to_status=status,
            detail=f"{request.gpus} x {model.name} in {facility_name}",
            actor=actor,
        )
    )
    lease = Lease(id=lease_id, **values)
    lease.gpu_model = model
    lease.facility = Facility(id=placement.facility_id, name=facility_name, country=country)
    lease.allocations = [Allocation(**allocation) for allocation in allocations]
    return lease


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
            detail=f"GPUs needed by lease {by_lease_id}; this lease ends at {cut.isoformat()}",
        )
        never_ran = cut <= victim.starts_at and victim.status != LeaseStatus.ACTIVE
        if never_ran or (victim.status == LeaseStatus.ACTIVE and cut <= now):
            change_status(session, victim, LeaseStatus.PREEMPTED, actor=actor)
    session.flush()  # trimmed allocations before the new ones: the constraint checks each row


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
            f"the extension collides with lease {first.lease_id} on GPU {first.gpu_id}",
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
