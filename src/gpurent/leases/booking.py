"""Booking GPUs: creating a lease without ever selling a GPU twice.

Each booking is one write transaction that reads what is free, places the request and
inserts its allocations. On SQLite the transaction is serialized (``begin_write``); on
PostgreSQL the exclusion constraint refuses an overlap, and the booking is placed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.catalog import service as catalog_service
from gpurent.catalog.models import GpuModel
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.fleet.models import Facility
from gpurent.leases import inserts
from gpurent.leases.index import FleetCache, FleetLayout
from gpurent.leases.models import Allocation, Lease
from gpurent.leases.placement import NodeSlots, place
from gpurent.leases.preemption import preempt
from gpurent.leases.schemas import LeaseRequest
from gpurent.leases.slots import window_slots
from gpurent.leases.states import LeaseStatus
from gpurent.leases.window import LeaseLimits, Window, resolve_window
from gpurent.timeutil import utcnow

PLACEMENT_ATTEMPTS = 5
EXCLUSION_VIOLATION = "23P01"  # PostgreSQL SQLSTATE


class NoCapacityError(ConflictError):
    code = "no_capacity"


def _fingerprint(request: LeaseRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _scoped_key(organization_id: int | None, key: str | None) -> str | None:
    """Keys belong to one organization: the same key from two organizations books two leases,
    and neither learns of the other's (stored as a digest of organization and key)."""
    if key is None:
        return None
    return hashlib.sha256(f"{organization_id or 0}\x00{key}".encode()).hexdigest()


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


@dataclass(frozen=True)
class Customer:
    """Whom a lease is for, and whether the compliance gate holds it for review."""

    organization_id: int | None = None
    hold_for_review: bool = False


def request_lease(
    session: Session,
    request: LeaseRequest,
    *,
    actor: str,
    idempotency_key: str | None = None,
    limits: LeaseLimits | None = None,
    now: datetime | None = None,
    fleet: FleetCache | None = None,
    customer: Customer | None = None,
    also: Callable[[Session, int], None] | None = None,
) -> tuple[Lease, bool]:
    """Book a lease; returns it and whether it is the replay of an earlier request.
    `also(session, lease_id)` adds rows of the caller's (the gate's decision, a review) to
    the booking's own transaction: no second commit, and none without the other."""
    customer = customer or Customer()
    limits = limits or LeaseLimits()
    fleet = fleet or FleetCache()
    now = now or utcnow()
    fingerprint = _fingerprint(request)
    idempotency_key = _scoped_key(customer.organization_id, idempotency_key)
    window = resolve_window(request, now, limits)
    session.rollback()  # the booking starts its own (write) transaction

    for attempt in range(PLACEMENT_ATTEMPTS):
        begin_write(session)
        try:
            if idempotency_key and (earlier := _by_key(session, idempotency_key)):
                session.commit()  # nothing written: ends the write transaction early
                return _replay(earlier, fingerprint), True
            # model ids never change: the cached layout may name them without a query
            model = _model_named(session, fleet.latest(session), request.gpu_model)
            facility = _facility_named(session, request.facility)
            facility_id = facility.id if facility else None
            lease = _book(
                session,
                fleet,
                request,
                model,
                window,
                facility_id,
                now,
                actor,
                (idempotency_key, fingerprint),
                customer,
            )
            if also is not None:
                also(session, lease.id)
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
    fleet: FleetCache,
    request: LeaseRequest,
    model: GpuModel,
    window: Window,
    facility_id: int | None,
    now: datetime,
    actor: str,
    idempotency: tuple[str | None, str],
    customer: Customer,
) -> Lease:
    """Place and insert one lease; the hot path, so plain INSERTs rather than the ORM's
    unit of work. Returns the lease as a detached object for the response."""
    layout, slots = window_slots(
        session,
        fleet,
        model.id,
        window.start,
        window.end,
        facility_id=facility_id,
        country=request.country,
    )
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
    if customer.hold_for_review:
        status = LeaseStatus.PENDING_REVIEW
    values = {
        "gpu_model_id": model.id,
        "organization_id": customer.organization_id,
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
    allocations = [
        {
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
    event = {
        "at": now,
        "kind": "created",
        "to_status": status.value,
        "detail": f"{request.gpus} x {model.name} in {facility_name}",
        "actor": actor,
    }
    if placement.preempt_gpu_ids:  # they yield first: the constraint checks each row
        lease_id = inserts.insert_lease(connection, values)
        preempt(session, placement.preempt_gpu_ids, window.start, window.end, lease_id, now, actor)
        inserts.insert_rest(connection, lease_id, allocations, event)
    else:
        lease_id = inserts.insert_all(connection, values, allocations, event)
    audit.record_on(
        connection,
        actor,
        "lease.create",
        f"lease:{lease_id}",
        {
            "status": status.value,
            "organization_id": customer.organization_id,
            "gpus": request.gpus,
            "gpu_model": model.name,
            "facility": facility_name,
            "starts_at": window.start.isoformat(),
            "ends_at": window.end.isoformat(),
        },
    )
    lease = Lease(id=lease_id, **values)
    lease.gpu_model = model
    lease.facility = Facility(id=placement.facility_id, name=facility_name, country=country)
    lease.allocations = [Allocation(lease_id=lease_id, **a) for a in allocations]
    return lease
