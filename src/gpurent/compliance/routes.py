"""Dossiers, scenario checks, the review queue, decisions and alerts API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal, get_organization
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.compliance import reviews, service
from gpurent.compliance.dossier import dossier_schema, parse_dossier
from gpurent.compliance.gate import decide_request, policy_for
from gpurent.compliance.models import Alert
from gpurent.compliance.schemas import (
    CheckIn,
    DecisionOut,
    ReviewDecisionIn,
    ReviewOut,
    StandingOut,
)
from gpurent.config import Settings
from gpurent.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["compliance"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _own(who: Principal, organization_id: int) -> None:
    if who.own_organization_only and organization_id != who.organization_id:
        raise NotFoundError(f"no organization {organization_id}")


@router.get("/organizations/{organization_id}/dossier")
def get_dossier(
    organization_id: int,
    session: SessionDep,
    who: Principal = principal_with(Permission.DOSSIER_READ),
) -> dict[str, Any]:
    _own(who, organization_id)
    dossier = service.get_dossier(session, organization_id)
    if dossier is None:
        raise NotFoundError(f"organization {organization_id} has no dossier")
    return dossier.model_dump(mode="json")


@router.put("/organizations/{organization_id}/dossier")
def put_dossier(
    organization_id: int,
    body: dict[str, Any],
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.DOSSIER_WRITE),
) -> StandingOut:
    """Submit the customer identification record; it is screened at once."""
    _own(who, organization_id)
    settings = _settings(request)
    organization = get_organization(session, organization_id)
    _, outcome = service.put_dossier(
        session,
        organization,
        body,
        actor=who.actor,
        policy=policy_for(settings),
        threshold=settings.screening_threshold,
    )
    reasons = [r.full() if not who.own_organization_only else r.public() for r in outcome.reasons]
    return StandingOut(decision=outcome.decision, reasons=reasons, screened_at=None)


@router.get("/organizations/{organization_id}/standing")
def get_standing(
    organization_id: int,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> StandingOut:
    standing = service.standing_of(session, organization_id)
    if standing is None:
        return StandingOut(decision=None, reasons=[], screened_at=None)
    return StandingOut(
        decision=standing.decision, reasons=standing.reasons, screened_at=standing.screened_at
    )


@router.get("/compliance/schema")
def schema(who: Principal = principal_with(Permission.DOSSIER_READ)) -> dict[str, Any]:
    return dossier_schema()


@router.post("/compliance/check")
def check(
    body: CheckIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.COMPLIANCE_CHECK),
) -> DecisionOut:
    """Decide a scenario without creating anything."""
    settings = _settings(request)
    outcome = decide_request(
        session,
        settings,
        parse_dossier(body.dossier),
        gpu_model=body.gpu_model,
        gpus=body.gpus,
        hours=body.hours,
        facility_country=body.facility_country,
        as_of=body.as_of,
    )
    return DecisionOut.of(outcome)


@router.get("/reviews")
def list_reviews(
    session: SessionDep,
    status: str | None = "open",
    who: Principal = principal_with(Permission.REVIEW),
) -> list[ReviewOut]:
    return [ReviewOut.model_validate(r) for r in reviews.list_reviews(session, status or None)]


@router.get("/reviews/{review_id}")
def get_review(
    review_id: int, session: SessionDep, who: Principal = principal_with(Permission.REVIEW)
) -> ReviewOut:
    return ReviewOut.model_validate(reviews.get_review(session, review_id))


@router.post("/reviews/{review_id}/approve")
def approve(
    review_id: int,
    body: ReviewDecisionIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    review = reviews.decide(session, review_id, approve=True, actor=who.actor, reason=body.reason)
    return ReviewOut.model_validate(review)


@router.post("/reviews/{review_id}/deny")
def deny(
    review_id: int,
    body: ReviewDecisionIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    review = reviews.decide(session, review_id, approve=False, actor=who.actor, reason=body.reason)
    return ReviewOut.model_validate(review)


@router.get("/alerts")
def alerts(
    session: SessionDep, who: Principal = principal_with(Permission.REVIEW)
) -> list[dict[str, Any]]:
    rows = session.scalars(select(Alert).order_by(Alert.id.desc()).limit(200))
    return [
        {
            "id": a.id,
            "organization_id": a.organization_id,
            "kind": a.kind,
            "message": a.message,
            "at": a.at.isoformat(),
        }
        for a in rows
    ]
