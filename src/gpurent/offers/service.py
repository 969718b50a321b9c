"""Offer use cases: find the rate card that applies, price a request, list offers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gpurent.catalog import service as catalog_service
from gpurent.catalog.models import GpuModel
from gpurent.errors import InvalidInputError, NotFoundError
from gpurent.fleet.models import Facility
from gpurent.offers.models import RateCard
from gpurent.offers.pricing import Price, Rates, price
from gpurent.offers.schemas import OfferOut, QuoteLine, QuoteOut, QuoteRequest, RateCardEntry
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months, as_utc, utcnow


def rates_of(card: RateCard) -> Rates:
    return Rates(
        currency=card.currency,
        on_demand=card.on_demand_hourly,
        interruptible=card.interruptible_hourly,
        reserved_discounts={int(m): Decimal(d) for m, d in card.reserved_discounts.items()},
        granularity_seconds=card.granularity_seconds,
        minimum_seconds=card.minimum_seconds,
    )


def find_rate_card(session: Session, model: GpuModel, facility: Facility | None) -> RateCard:
    """The facility's own card for the model if it has one, else the model-wide card."""
    statement = select(RateCard).where(RateCard.gpu_model_id == model.id)
    cards = {card.facility_id: card for card in session.scalars(statement)}
    card = cards.get(facility.id if facility else None) or cards.get(None)
    if card is None:
        where = f" in {facility.name}" if facility else ""
        raise NotFoundError(f"no offer for {model.name}{where}", fields=["gpu_model"])
    return card


def term_seconds(term: Term, *, start: datetime, hours: Decimal | None, months: int | None) -> int:
    """How long a request lasts: months for reserved terms, hours otherwise."""
    if term is Term.RESERVED:
        if months is None:
            raise InvalidInputError("a reserved term needs 'months'", fields=["months"])
        return int((add_months(start, months) - start).total_seconds())
    if hours is None:
        raise InvalidInputError(f"an {term} request needs 'hours'", fields=["hours"])
    return int(hours * 3600)


def price_with(card: RateCard, *, term: Term, gpus: int, seconds: int, months: int | None) -> Price:
    try:
        return price(rates_of(card), term=term, gpus=gpus, seconds=seconds, months=months)
    except ValueError as exc:
        raise InvalidInputError(str(exc), fields=["term"]) from exc


def quote(session: Session, request: QuoteRequest) -> QuoteOut:
    model = catalog_service.get_model(session, request.gpu_model)
    facility = None
    if request.facility:
        facility = session.scalars(
            select(Facility).where(Facility.name == request.facility)
        ).one_or_none()
        if facility is None:
            raise NotFoundError(f"no facility {request.facility!r}", fields=["facility"])
    start = as_utc(request.start) if request.start else utcnow()
    seconds = term_seconds(request.term, start=start, hours=request.hours, months=request.months)
    card = find_rate_card(session, model, facility)
    result = price_with(
        card, term=request.term, gpus=request.gpus, seconds=seconds, months=request.months
    )
    return QuoteOut(
        gpu_model=model.name,
        gpus=request.gpus,
        term=request.term,
        months=request.months,
        facility=facility.name if facility else None,
        seconds=seconds,
        billable_seconds=result.billable_seconds,
        currency=result.currency,
        hourly_per_gpu=result.hourly_per_gpu.normalize(),
        total=result.total,
        lines=[
            QuoteLine(description=line.description, amount=line.amount) for line in result.lines
        ],
    )


def list_offers(session: Session) -> list[OfferOut]:
    statement = select(RateCard).options(
        joinedload(RateCard.gpu_model), joinedload(RateCard.facility)
    )
    offers = []
    for card in session.scalars(statement):
        rates = rates_of(card)
        offers.append(
            OfferOut(
                gpu_model=card.gpu_model.name,
                facility=card.facility.name if card.facility else None,
                currency=card.currency,
                on_demand_hourly=card.on_demand_hourly.normalize(),
                interruptible_hourly=(
                    card.interruptible_hourly.normalize() if card.interruptible_hourly else None
                ),
                reserved={
                    months: rates.hourly(Term.RESERVED, months).normalize()
                    for months in sorted(rates.reserved_discounts)
                },
                granularity_seconds=card.granularity_seconds,
                minimum_seconds=card.minimum_seconds,
                classification=catalog_service.classify_model(card.gpu_model).control_class,
            )
        )
    return sorted(offers, key=lambda o: (o.gpu_model, o.facility or ""))


def put_rate_card(
    session: Session, entry: RateCardEntry, model: GpuModel, facility: Facility | None
) -> bool | None:
    """Create (True) or update (False) a card; None when unchanged. Flushes only."""
    values: dict[str, object] = {
        "currency": entry.currency,
        "on_demand_hourly": entry.on_demand,
        "interruptible_hourly": entry.interruptible,
        "reserved_discounts": {
            str(m): format(d.normalize(), "f") for m, d in entry.reserved.items()
        },
        "granularity_seconds": entry.granularity_seconds,
        "minimum_seconds": entry.minimum_seconds,
    }
    facility_id = facility.id if facility else None
    card = session.scalars(
        select(RateCard).where(
            RateCard.gpu_model_id == model.id,
            RateCard.facility_id.is_(None)
            if facility_id is None
            else RateCard.facility_id == facility_id,
        )
    ).one_or_none()
    if card is None:
        session.add(RateCard(gpu_model_id=model.id, facility_id=facility_id, **values))
        session.flush()
        return True
    if all(getattr(card, key) == value for key, value in values.items()):
        return None
    for key, value in values.items():
        setattr(card, key, value)
    session.flush()
    return False
