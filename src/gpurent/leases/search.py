"""Availability: the earliest windows for a request, and a calendar of what is busy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gpurent.catalog import service as catalog_service
from gpurent.errors import InvalidInputError
from gpurent.fleet.models import Facility, Node
from gpurent.leases.availability import earliest_windows
from gpurent.leases.index import AvailabilityIndex, FleetLayout
from gpurent.leases.models import Allocation, Lease
from gpurent.leases.schemas import (
    BusyInterval,
    GpuCalendar,
    LeasePrice,
    NodeCalendar,
    WindowOut,
)
from gpurent.offers.pricing import price
from gpurent.offers.terms import Term
from gpurent.timeutil import as_utc, utcnow


def find_windows(
    session: Session,
    index: AvailabilityIndex,
    *,
    gpu_model: str,
    gpus: int,
    hours: Decimal,
    after: datetime | None = None,
    facility: str | None = None,
    country: str | None = None,
    term: Term = Term.ON_DEMAND,
    limit: int = 3,
    horizon: timedelta = timedelta(days=60),
) -> list[WindowOut]:
    """Up to ``limit`` windows (the earliest in each facility), each placed and priced."""
    model = catalog_service.get_model(session, gpu_model)
    if hours <= 0:
        raise InvalidInputError("hours must be positive", fields=["hours"])
    start = max(as_utc(after), utcnow()) if after else utcnow()
    index.refresh(session)
    layout = index.fleet.latest(session)
    fleet_nodes, timelines, addresses = index.view(model.id, facility=facility, country=country)
    windows = earliest_windows(
        [n.info for n in fleet_nodes],
        timelines,
        gpus,
        float(hours) * 3600,
        start.timestamp(),
        horizon.total_seconds(),
        limit,
        preempt=not term.preemptible,
    )
    places = {n.info.facility_id: (n.facility_name, n.country) for n in fleet_nodes}
    result = []
    for window in windows:
        facility_name, facility_country = places[window.placement.facility_id]
        result.append(
            WindowOut(
                start=datetime.fromtimestamp(window.start, UTC),
                end=datetime.fromtimestamp(window.end, UTC),
                facility=facility_name,
                country=facility_country,
                gpu_ids=list(window.placement.gpu_ids),
                gpu_addresses=[addresses[g] for g in window.placement.gpu_ids],
                preempts_interruptible=len(window.placement.preempt_gpu_ids),
                quote=_quote(layout, model.id, window.placement.facility_id, gpus, hours, term),
            )
        )
    return result


def _quote(
    layout: FleetLayout, model_id: int, facility_id: int, gpus: int, hours: Decimal, term: Term
) -> LeasePrice | None:
    """The window's price from the cached rate cards; None where the term is not offered."""
    rates = layout.rates_for(model_id, facility_id)
    if rates is None:
        return None
    try:
        result = price(rates, term=term, gpus=gpus, seconds=int(hours * 3600))
    except ValueError:
        return None  # no price for this term here: the window is still shown
    return LeasePrice(
        currency=result.currency,
        hourly_per_gpu=result.hourly_per_gpu.normalize(),
        billable_seconds=result.billable_seconds,
        total=result.total,
    )


def calendar(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    facility: str | None = None,
    node: str | None = None,
) -> list[NodeCalendar]:
    """Busy intervals per node and GPU that overlap [start, end)."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InvalidInputError("the range ends before it starts", fields=["end"])
    nodes_query = (
        select(Node)
        .join(Node.facility)
        .options(joinedload(Node.facility), joinedload(Node.gpus))
        .order_by(Facility.name, Node.name)
    )
    if facility:
        nodes_query = nodes_query.where(Facility.name == facility)
    if node:
        nodes_query = nodes_query.where(Node.name == node)
    nodes = session.scalars(nodes_query).unique().all()
    gpu_ids = [g.id for n in nodes for g in n.gpus]
    busy: dict[int, list[BusyInterval]] = {g: [] for g in gpu_ids}
    rows = session.execute(
        select(
            Allocation.gpu_id,
            Allocation.starts_at,
            Allocation.ends_at,
            Lease.id,
            Lease.status,
            Lease.term,
        )
        .join(Allocation.lease)
        .where(
            Allocation.live,
            Allocation.gpu_id.in_(gpu_ids),
            Allocation.starts_at < end,
            Allocation.ends_at > start,
        )
        .order_by(Allocation.gpu_id, Allocation.starts_at)
    )
    for gpu_id, a_start, a_end, lease_id, status, term in rows:
        busy[gpu_id].append(
            BusyInterval(
                lease_id=lease_id,
                start=a_start,
                end=a_end,
                status=status,
                interruptible=term == Term.INTERRUPTIBLE,
            )
        )
    return [
        NodeCalendar(
            node=n.name,
            facility=n.facility.name,
            gpus=[GpuCalendar(gpu_id=g.id, address=g.address, busy=busy[g.id]) for g in n.gpus],
        )
        for n in nodes
    ]
