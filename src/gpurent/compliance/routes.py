"""Dossiers, scenario checks, the review queue, clearances, decisions and alerts API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal, get_organization
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import IdPath
from gpurent.compliance import clearances, reviews, service
from gpurent.compliance.dossier import dossier_schema, parse_dossier
from gpurent.compliance.gate import decide_request, policy_for
from gpurent.compliance.models import Alert
from gpurent.compliance.schemas import (
    CheckIn,
    ClearanceIn,
    ClearanceOut,
    ClearanceUndoIn,
    DecisionOut,
    DossierChangeOut,
    PendingChangeOut,
    ReviewAssignIn,
    ReviewDecisionIn,
    ReviewDetailOut,
    ReviewEventOut,
    ReviewNoteIn,
    ReviewOut,
    StandingOut,
)
from gpurent.config import Settings
from gpurent.errors import NotFoundError
from gpurent.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["compliance"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _own(who: Principal, organization_id: int) -> None:
    if who.own_organization_only and organization_id != who.organization_id:
        raise NotFoundError(f"no organization {organization_id}")


def _shown(who: Principal, reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A renter reads each rule and its message, never the evidence behind it."""
    if not who.own_organization_only:
        return reasons
    return [{"rule": r["rule"], "message": r["message"], "evidence": {}} for r in reasons]


@router.get("/organizations/{organization_id}/dossier")
def get_dossier(
    organization_id: IdPath,
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
    organization_id: IdPath,
    body: dict[str, Any],
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.DOSSIER_WRITE),
) -> StandingOut:
    """Submit the customer identification record; it is screened at once. A record that
    would loosen the standing awaits a compliance officer (the standing in force holds)."""
    _own(who, organization_id)
    settings = _settings(request)
    organization = get_organization(session, organization_id)
    result = service.put_dossier(
        session,
        organization,
        body,
        actor=who.actor,
        policy=policy_for(settings),
        threshold=settings.screening_threshold,
        sla_hours=settings.review_sla_hours,
    )
    if result.change is None:
        private = not who.own_organization_only
        reasons = [r.full() if private else r.public() for r in result.submitted.reasons]
        return StandingOut(decision=result.decision, reasons=reasons, screened_at=None)
    assert result.review_id is not None
    return StandingOut(
        decision=result.decision,
        reasons=_shown(who, result.reasons),
        screened_at=None,
        pending_change=PendingChangeOut(
            review_id=result.review_id, submitted_at=result.change.submitted_at
        ),
    )


@router.get("/organizations/{organization_id}/standing")
def get_standing(
    organization_id: IdPath,
    session: SessionDep,
    who: Principal = principal_with(Permission.STANDING_READ),
) -> StandingOut:
    """The standing in force; a record waiting for review; (officers) the clearances."""
    _own(who, organization_id)
    standing = service.standing_of(session, organization_id)
    pending = service.pending_change(session, organization_id)
    out = StandingOut(
        decision=standing.decision if standing else None,
        reasons=_shown(who, standing.reasons) if standing else [],
        screened_at=standing.screened_at if standing else None,
        pending_change=(
            PendingChangeOut(review_id=pending[0].id, submitted_at=pending[1].submitted_at)
            if pending
            else None
        ),
    )
    if not who.own_organization_only:
        out.clearances = [
            ClearanceOut.model_validate(c) for c in clearances.in_force(session, organization_id)
        ]
    return out


@router.get("/organizations/{organization_id}/clearances")
def list_clearances(
    organization_id: IdPath,
    session: SessionDep,
    who: Principal = principal_with(Permission.CLEARANCE),
) -> list[ClearanceOut]:
    """Every clearance of the customer, undone ones too."""
    get_organization(session, organization_id)
    return [ClearanceOut.model_validate(c) for c in clearances.history(session, organization_id)]


@router.post("/organizations/{organization_id}/clearances", status_code=201)
def clear(
    organization_id: IdPath,
    body: ClearanceIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.CLEARANCE),
) -> ClearanceOut:
    """Clear a possible match of the customer's record as a false positive."""
    settings = _settings(request)
    organization = get_organization(session, organization_id)
    clearance = service.clear_possible_match(
        session,
        organization,
        body.entry_id,
        list_name=body.list_name,
        reason=body.reason,
        actor=who.actor,
        policy=policy_for(settings),
        threshold=settings.screening_threshold,
    )
    return ClearanceOut.model_validate(clearance)


@router.post("/organizations/{organization_id}/clearances/{clearance_id}/undo")
def undo_clearance(
    organization_id: IdPath,
    clearance_id: IdPath,
    body: ClearanceUndoIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.CLEARANCE),
) -> ClearanceOut:
    settings = _settings(request)
    clearance = service.undo_clearance(
        session,
        organization_id,
        clearance_id,
        reason=body.reason,
        actor=who.actor,
        policy=policy_for(settings),
        threshold=settings.screening_threshold,
    )
    return ClearanceOut.model_validate(clearance)


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
    status: str | None = "pending",
    overdue: bool = False,
    who: Principal = principal_with(Permission.REVIEW),
) -> list[ReviewOut]:
    """Reviews by status (pending: open or awaiting a second approval); overdue=true: the
    pending ones past their due time."""
    now = utcnow()
    rows = reviews.list_reviews(session, status or None, overdue=overdue, now=now)
    return [ReviewOut.of(r, now) for r in rows]


@router.get("/reviews/{review_id}")
def get_review(
    review_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.REVIEW)
) -> ReviewDetailOut:
    """The case: its causes' evidence, its history, and a dossier change's diff."""
    review = reviews.get_review(session, review_id)
    out = ReviewDetailOut.of(review, utcnow())
    out.reasons = service.decision_reasons(session, review.decision_id)
    out.history = [ReviewEventOut.model_validate(e) for e in reviews.history(session, review_id)]
    if review.dossier_change_id is not None:
        change = service.get_dossier_change(session, review.dossier_change_id)
        out.dossier_change = DossierChangeOut.model_validate(change)
    return out


@router.post("/reviews/{review_id}/claim")
def claim(
    review_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.REVIEW)
) -> ReviewOut:
    return ReviewOut.of(reviews.claim(session, review_id, actor=who.actor), utcnow())


@router.post("/reviews/{review_id}/assign")
def assign(
    review_id: IdPath,
    body: ReviewAssignIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    review = reviews.assign(session, review_id, user=body.assignee, actor=who.actor)
    return ReviewOut.of(review, utcnow())


@router.post("/reviews/{review_id}/notes")
def add_note(
    review_id: IdPath,
    body: ReviewNoteIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    return ReviewOut.of(reviews.note(session, review_id, text=body.text, actor=who.actor), utcnow())


def _decide(
    request: Request,
    session: SessionDep,
    review_id: int,
    approve: bool,
    who: Principal,
    reason: str,
) -> ReviewOut:
    settings = _settings(request)
    review = service.decide_review(
        session,
        review_id,
        approve=approve,
        actor=who.actor,
        reason=reason,
        policy=policy_for(settings),
        threshold=settings.screening_threshold,
    )
    return ReviewOut.of(review, utcnow())


@router.post("/reviews/{review_id}/approve")
def approve(
    review_id: IdPath,
    body: ReviewDecisionIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    """Approve; a four-eyes case needs a second approval by another officer."""
    return _decide(request, session, review_id, True, who, body.reason)


@router.post("/reviews/{review_id}/deny")
def deny(
    review_id: IdPath,
    body: ReviewDecisionIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.REVIEW),
) -> ReviewOut:
    return _decide(request, session, review_id, False, who, body.reason)


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
