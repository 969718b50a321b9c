"""Compliance use cases: dossiers, decisions (recorded and audited), standings."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.compliance.dossier import Dossier, parse_dossier
from gpurent.compliance.facts import gather
from gpurent.compliance.models import DecisionRecord, DossierRecord, Standing
from gpurent.compliance.policy import Outcome, Policy, RequestFacts, evaluate
from gpurent.errors import NotFoundError
from gpurent.timeutil import utcnow


def get_dossier(session: Session, organization_id: int) -> Dossier | None:
    record = session.get(DossierRecord, organization_id)
    return Dossier.model_validate(record.data) if record else None


def require_dossier(session: Session, organization: Organization) -> Dossier:
    dossier = get_dossier(session, organization.id)
    if dossier is None:
        raise NotFoundError(
            f"organization {organization.name} has no customer identification record: "
            "PUT /v1/organizations/{id}/dossier first",
            fields=["dossier"],
        )
    return dossier


def decide(
    session: Session,
    policy: Policy,
    threshold: float,
    dossier: Dossier,
    *,
    request: RequestFacts | None,
    as_of: date | None = None,
    organization_id: int | None = None,
) -> Outcome:
    """Evaluate without recording anything (the scenario check)."""
    facts = gather(
        session,
        dossier,
        threshold,
        request=request,
        as_of=as_of or utcnow().date(),
        organization_id=organization_id,
    )
    return evaluate(policy, facts)


def record_decision(
    session: Session,
    outcome: Outcome,
    *,
    kind: str,
    subject: str,
    actor: str,
    organization_id: int | None,
) -> DecisionRecord:
    """Keep a decision and its reasons, in the audit log too; flushes only."""
    record = DecisionRecord(
        organization_id=organization_id,
        kind=kind,
        subject=subject,
        decision=outcome.decision,
        reasons=[r.full() for r in outcome.reasons],
        policy=outcome.policy,
        as_of=outcome.as_of or utcnow().date(),
        actor=actor,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "compliance.decision",
        subject,
        {
            "decision_id": record.id,
            "kind": kind,
            "organization_id": organization_id,
            "decision": outcome.decision,
            "rules": [r.rule for r in outcome.reasons],
            "policy": outcome.policy,
            "as_of": record.as_of.isoformat(),
        },
    )
    return record


def put_dossier(
    session: Session,
    organization: Organization,
    data: Any,
    *,
    actor: str,
    policy: Policy,
    threshold: float,
) -> tuple[Dossier, Outcome]:
    """Store a customer's record and screen it at once; returns the standing."""
    dossier = parse_dossier(data, "dossier")
    record = session.get(DossierRecord, organization.id)
    stored = dossier.model_dump(mode="json")
    if record is None:
        session.add(DossierRecord(organization_id=organization.id, data=stored, updated_by=actor))
    else:
        record.data, record.updated_by, record.updated_at = stored, actor, utcnow()
    audit.record(session, actor, "dossier.put", f"organization:{organization.id}", stored)
    session.flush()
    outcome = refresh_standing(session, organization, dossier, policy, threshold, actor=actor)
    session.commit()
    return dossier, outcome


def refresh_standing(
    session: Session,
    organization: Organization,
    dossier: Dossier,
    policy: Policy,
    threshold: float,
    *,
    actor: str,
) -> Outcome:
    """Screen the customer apart from any request, and keep the outcome; flushes only."""
    outcome = decide(
        session, policy, threshold, dossier, request=None, organization_id=organization.id
    )
    standing = session.get(Standing, organization.id)
    reasons = [r.full() for r in outcome.reasons]
    if standing is None:
        session.add(
            Standing(organization_id=organization.id, decision=outcome.decision, reasons=reasons)
        )
    else:
        standing.decision, standing.reasons, standing.screened_at = (
            outcome.decision,
            reasons,
            utcnow(),
        )
    record_decision(
        session,
        outcome,
        kind="screening",
        subject=f"organization:{organization.id}",
        actor=actor,
        organization_id=organization.id,
    )
    return outcome


def standing_of(session: Session, organization_id: int) -> Standing | None:
    return session.get(Standing, organization_id)


def decisions(
    session: Session, organization_id: int | None = None, limit: int = 100
) -> list[DecisionRecord]:
    statement = select(DecisionRecord).order_by(DecisionRecord.id.desc()).limit(limit)
    if organization_id is not None:
        statement = statement.where(DecisionRecord.organization_id == organization_id)
    return list(session.scalars(statement))
