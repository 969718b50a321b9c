"""Leases, availability and calendar API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal
from gpurent.api.auth import allowed, principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import IdPath, Offset
from gpurent.billing import service as billing
from gpurent.bounds import MAX_GPUS, MAX_HOURS, CountryCode, Moment, Reference
from gpurent.compliance import gate
from gpurent.errors import NotFoundError
from gpurent.leases import changes, search, service
from gpurent.leases.models import Lease
from gpurent.leases.schemas import (
    EndChange,
    LeaseEventOut,
    LeaseOut,
    LeaseRequest,
    LimitsOut,
    NodeCalendar,
    WindowOut,
)
from gpurent.leases.states import LeaseStatus
from gpurent.leases.window import LeaseLimits
from gpurent.offers.terms import Term
from gpurent.timeutil import as_utc

router = APIRouter(prefix="/v1", tags=["leases"])


def _limits(request: Request) -> LeaseLimits:
    return LeaseLimits.of(request.app.state.settings)


@router.post("/leases", status_code=status.HTTP_201_CREATED, response_model=LeaseOut)
def create_lease(
    body: LeaseRequest,
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    organization: Annotated[
        Reference | None, Query(description="staff: book for this customer (name or id)")
    ] = None,
    who: Principal = principal_with(Permission.LEASES_CREATE),
) -> Response:
    """Book GPUs, through the export-control gate. A retry with the same
    ``Idempotency-Key`` returns the first result."""
    fleet = request.app.state.fleet_cache
    billing.check_lease_booking(session, who, body, organization, limits=_limits(request))
    lease, replayed, _outcome = gate.book(
        session,
        request.app.state.settings,
        who,
        body,
        organization_name=organization,
        idempotency_key=idempotency_key,
        fleet=fleet,
    )
    headers = {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
        lease = service.get_lease(session, lease.id)
    # Serialized once here: the booking path is hot, and LeaseOut is already validated.
    body_json = service.lease_out(lease, fleet.addresses()).model_dump_json()
    return Response(body_json, status.HTTP_201_CREATED, headers, "application/json")


def visible_lease(session: SessionDep, lease_id: int, who: Principal) -> Lease:
    """The lease, if the caller may see it (a renter: its own organization's only)."""
    lease = service.get_lease(session, lease_id)
    if who.own_organization_only and lease.organization_id != who.organization_id:
        raise NotFoundError(f"no lease {lease_id}")
    return lease


@router.get("/leases")
def list_leases(
    session: SessionDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    status: LeaseStatus | None = None,
    who: Principal = principal_with(Permission.LEASES_READ),
) -> list[LeaseOut]:
    """Newest first; the total is in ``X-Total-Count``. A renter sees its own."""
    leases, total = service.list_leases(
        session,
        limit=limit,
        offset=offset,
        status=status,
        organization_id=who.organization_id if who.own_organization_only else None,
    )
    response.headers["X-Total-Count"] = str(total)
    return billing.with_cost(session, [service.lease_out(lease) for lease in leases])


@router.get("/leases/{lease_id}")
def get_lease(
    lease_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> LeaseOut:
    return billing.with_cost(session, [service.lease_out(visible_lease(session, lease_id, who))])[0]


@router.get("/leases/{lease_id}/events")
def list_lease_events(
    lease_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> list[LeaseEventOut]:
    visible_lease(session, lease_id, who)
    events = service.lease_events(session, lease_id)
    return [service.event_out(e, accounts.actor_as_seen_by(session, e.actor, who)) for e in events]


def _move_end(
    request: Request,
    session: SessionDep,
    lease_id: int,
    change: EndChange,
    who: Principal,
    *,
    longer: bool,
) -> LeaseOut:
    lease = visible_lease(session, lease_id, who)
    if change.hours is not None:
        _limits(request).check_hours(change.hours)
    new_end = changes.requested_end(session, lease_id, change, longer=longer)
    if longer:
        extra = Decimal((new_end - as_utc(lease.ends_at)).total_seconds()) / 3600
        gate.check_extension(session, request.app.state.settings, who, lease, extra)
    session.rollback()
    changes.change_end(session, lease_id, new_end, actor=who.actor, limits=_limits(request))
    return service.lease_out(service.get_lease(session, lease_id))


@router.post("/leases/{lease_id}/extend")
def extend_lease(
    lease_id: IdPath,
    change: EndChange,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.LEASES_CHANGE),
) -> LeaseOut:
    """Move the end later (through the export-control gate): ``{"end": ...}`` or
    ``{"hours": ...}`` more."""
    return _move_end(request, session, lease_id, change, who, longer=True)


@router.post("/leases/{lease_id}/shorten")
def shorten_lease(
    lease_id: IdPath,
    change: EndChange,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.LEASES_CHANGE),
) -> LeaseOut:
    """Move the end earlier: ``{"end": ...}`` or ``{"hours": ...}`` less."""
    return _move_end(request, session, lease_id, change, who, longer=False)


@router.post("/leases/{lease_id}/release")
def release_lease(
    lease_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_CHANGE)
) -> LeaseOut:
    """End an active lease now (a lease not yet started is cancelled)."""
    visible_lease(session, lease_id, who)
    session.rollback()  # the release starts its own write transaction
    return service.lease_out(service.release_lease(session, lease_id, actor=who.actor))


@router.post("/leases/{lease_id}/cancel")
def cancel_lease(
    lease_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_CHANGE)
) -> LeaseOut:
    visible_lease(session, lease_id, who)
    session.rollback()  # the cancellation starts its own write transaction
    return service.lease_out(service.cancel_lease(session, lease_id, actor=who.actor))


@router.get("/limits", dependencies=[allowed(Permission.OFFERS_READ)])
def limits(request: Request) -> LimitsOut:
    """The limits this server puts on lease windows and request bodies."""
    return LimitsOut.of(request.app.state.settings)


@router.get("/availability", dependencies=[allowed(Permission.OFFERS_READ)])
def availability(
    request: Request,
    session: SessionDep,
    gpu_model: Annotated[str, Query(min_length=1, max_length=200)],
    gpus: Annotated[int, Query(ge=1, le=MAX_GPUS)],
    hours: Annotated[Decimal, Query(gt=0, le=MAX_HOURS, allow_inf_nan=False)],
    after: Annotated[Moment | None, Query(description="ISO 8601 with a timezone")] = None,
    facility: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[CountryCode | None, Query()] = None,
    term: Term = Term.ON_DEMAND,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> list[WindowOut]:
    """The earliest windows for N GPUs of a model for H hours, each placed and priced."""
    settings = request.app.state.settings
    _limits(request).check_hours(hours)
    return search.find_windows(
        session,
        request.app.state.availability_index,
        gpu_model=gpu_model,
        gpus=gpus,
        hours=hours,
        after=after,
        facility=facility,
        country=country,
        term=term,
        limit=limit,
        horizon=timedelta(days=settings.availability_horizon_days),
    )


@router.get("/calendar", dependencies=[allowed(Permission.FLEET_READ)])
def calendar(
    session: SessionDep,
    start: Annotated[Moment, Query()],
    end: Annotated[Moment, Query()],
    facility: Annotated[str | None, Query(max_length=200)] = None,
    node: Annotated[str | None, Query(max_length=200)] = None,
) -> list[NodeCalendar]:
    """Busy intervals per node and GPU over a time range."""
    return search.calendar(session, start=start, end=end, facility=facility, node=node)
