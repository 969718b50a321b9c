"""Offers and quotes API."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gpurent.accounts.roles import Permission
from gpurent.api.auth import allowed
from gpurent.api.deps import SessionDep
from gpurent.leases.window import LeaseLimits
from gpurent.offers import service
from gpurent.offers.schemas import OfferOut, QuoteOut, QuoteRequest

router = APIRouter(prefix="/v1", tags=["offers"])


@router.get("/offers", dependencies=[allowed(Permission.OFFERS_READ)])
def list_offers(session: SessionDep) -> list[OfferOut]:
    return service.list_offers(session)


@router.post("/quotes", dependencies=[allowed(Permission.OFFERS_READ)])
def create_quote(body: QuoteRequest, request: Request, session: SessionDep) -> QuoteOut:
    """The price of N GPUs of a model for a duration under a term, with its breakdown."""
    limits = LeaseLimits.of(request.app.state.settings)
    if body.hours is not None:
        limits.check_hours(body.hours, with_minimum=False)
    if body.months is not None:
        limits.check_months(body.months)
    return service.quote(session, body)
