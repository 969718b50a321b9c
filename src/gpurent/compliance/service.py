"""Compliance use cases: dossiers and their changes, decisions (recorded and audited),
standings, clearances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.compliance import clearances, dossier_diff, reviews
from gpurent.compliance.dossier import Dossier, parse_dossier
from gpurent.compliance.facts import gather
from gpurent.compliance.models import (
    Clearance,
    DecisionRecord,
    DossierChange,
    DossierRecord,
    Review,
    Standing,
)
from gpurent.compliance.policy import Outcome, Policy, RequestFacts, evaluate
from gpurent.compliance.review_states import PENDING, ReviewStatus, change_review_status
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.lists import service as lists
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
    record = DecisionRecord(**_decision_values(outcome, kind, subject, actor, organization_id))
    session.add(record)
    session.flush()
    detail = _decision_audit(record.id, outcome, kind, organization_id, record.as_of)
    audit.record(session, actor, "compliance.decision", subject, detail)
    return record


DECISIONS = cast(Table, DecisionRecord.__table__)


def insert_decision(
    session: Session,
    outcome: Outcome,
    *,
    kind: str,
    subject: str,
    actor: str,
    organization_id: int | None,
) -> int:
    """The same as plain INSERTs, for the booking path (no unit of work); returns its id."""
    values = _decision_values(outcome, kind, subject, actor, organization_id)
    connection = session.connection()
    decision_id = int(
        connection.execute(
            # The table, not the mapped class: no unit-of-work bookkeeping on the hot path.
            insert(DECISIONS).values(values).returning(DECISIONS.c.id)
        ).scalar_one()
    )
    detail = _decision_audit(decision_id, outcome, kind, organization_id, values["as_of"])
    audit.record_on(connection, actor, "compliance.decision", subject, detail)
    return decision_id


def _decision_values(
    outcome: Outcome, kind: str, subject: str, actor: str, organization_id: int | None
) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "kind": kind,
        "subject": subject,
        "decision": outcome.decision,
        "reasons": [r.full() for r in outcome.reasons],
        "policy": outcome.policy,
        "policy_version": outcome.policy_version or None,
        "ownership_method": outcome.ownership_method or None,
        "as_of": outcome.as_of or utcnow().date(),
        "actor": actor,
        "at": utcnow(),
    }


def _decision_audit(
    decision_id: int, outcome: Outcome, kind: str, organization_id: int | None, as_of: date
) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "kind": kind,
        "organization_id": organization_id,
        "decision": outcome.decision,
        "rules": [r.rule for r in outcome.reasons],
        "policy": outcome.policy,
        "ownership_method": outcome.ownership_method or None,
        "as_of": as_of.isoformat(),
    }


# How far each decision lets a customer go: a change may tighten at once, never loosen.
PERMISSIVENESS = {"deny": 0, "review": 1, "allow": 2}
# What the most controlled hardware would meet: a record change that lifts a rule only such
# a request fires (a licence added, a headquarters moved) loosens the standing too.
PROBE = RequestFacts("a 3A090.a model", "3A090.a", 8, Decimal(720), None)


def lifted_rules(
    session: Session,
    policy: Policy,
    threshold: float,
    before: Dossier,
    after: Dossier,
    organization_id: int,
) -> list[str]:
    """The rules that fire on the record in force and no longer on the new one, with no
    request and with the probe: any of them makes the change a loosening for an officer."""
    lifted: list[str] = []
    for request in (None, PROBE):
        old, new = (
            decide(session, policy, threshold, d, request=request, organization_id=organization_id)
            for d in (before, after)
        )
        still = {r.rule for r in new.reasons}
        lifted += [r.rule for r in old.reasons if r.rule not in still and r.rule not in lifted]
    return lifted


@dataclass
class DossierResult:
    """What a submitted record led to: the standing in force, and the change waiting for
    an officer when the record would have loosened it."""

    dossier: Dossier
    decision: str
    reasons: list[dict[str, Any]]
    submitted: Outcome
    change: DossierChange | None = None
    review_id: int | None = None

    @property
    def awaits_review(self) -> bool:
        return self.change is not None


def put_dossier(
    session: Session,
    organization: Organization,
    data: Any,
    *,
    actor: str,
    policy: Policy,
    threshold: float,
    sla_hours: float | None = None,
) -> DossierResult:
    """Store a customer's record and screen it; commits. A record more permissive than
    the standing in force is held for a compliance officer (the previous record and its
    standing stay in force); anything else takes effect at once."""
    dossier = parse_dossier(data, "dossier")
    organization_id = organization.id
    # Screen first, with no write transaction open: screening may take a while.
    submitted = decide(
        session, policy, threshold, dossier, request=None, organization_id=organization_id
    )
    previous = get_dossier(session, organization_id)
    lifted = (
        []
        if previous is None
        else lifted_rules(session, policy, threshold, previous, dossier, organization_id)
    )
    session.rollback()
    begin_write(session)
    try:
        result = _store_dossier(
            session, organization_id, dossier, submitted, policy, actor=actor,
            sla_hours=sla_hours, lifted=lifted,
        )  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _store_dossier(
    session: Session,
    organization_id: int,
    dossier: Dossier,
    submitted: Outcome,
    policy: Policy,
    *,
    actor: str,
    sla_hours: float | None,
    lifted: list[str],
) -> DossierResult:
    stored = dossier.model_dump(mode="json")
    subject = f"organization:{organization_id}"
    _supersede_pending_change(session, organization_id, actor)
    record = session.get(DossierRecord, organization_id)
    standing = session.get(Standing, organization_id)
    looser = (
        record is not None
        and standing is not None
        and (PERMISSIVENESS[submitted.decision] > PERMISSIVENESS[standing.decision] or bool(lifted))
    )
    if record is None or standing is None or not looser:
        if record is None:
            session.add(
                DossierRecord(organization_id=organization_id, data=stored, updated_by=actor)
            )
        else:
            record.data, record.updated_by, record.updated_at = stored, actor, utcnow()
        audit.record(session, actor, "dossier.put", subject, stored)
        session.flush()
        _set_standing(session, organization_id, submitted)
        record_decision(
            session,
            submitted,
            kind="screening",
            subject=subject,
            actor=actor,
            organization_id=organization_id,
        )
        reasons = [r.full() for r in submitted.reasons]
        return DossierResult(dossier, submitted.decision, reasons, submitted)
    previous = Dossier.model_validate(record.data)
    change = DossierChange(
        organization_id=organization_id,
        data=stored,
        previous=record.data,
        diff=dossier_diff.diff(previous, dossier),
        decision=submitted.decision,
        standing_before=standing.decision,
        standing_reasons=list(standing.reasons),
        submitted_at=utcnow(),
        submitted_by=actor,
    )
    session.add(change)
    session.flush()
    decision = record_decision(
        session,
        submitted,
        kind="dossier_change",
        subject=subject,
        actor=actor,
        organization_id=organization_id,
    )
    # The rules the change would lift are what the officers must be satisfied about.
    causes = list(dict.fromkeys([*(str(r["rule"]) for r in standing.reasons), *lifted]))
    review = reviews.open_review(
        session,
        organization_id=organization_id,
        actor=actor,
        causes=causes,
        four_eyes=reviews.needs_four_eyes(policy, causes),
        kind="dossier_change",
        dossier_change_id=change.id,
        decision_id=decision.id,
        sla_hours=sla_hours,
        detail=f"record would move the standing from {standing.decision} to "
        f"{submitted.decision}; material changes: {len(change.diff['material'])}",
    )
    audit.record(
        session,
        actor,
        "dossier.change_held",
        subject,
        {"dossier_change_id": change.id, "review_id": review.id, "data": stored},
    )
    return DossierResult(
        dossier, standing.decision, list(standing.reasons), submitted, change, review.id
    )


def _supersede_pending_change(session: Session, organization_id: int, actor: str) -> None:
    """A newer record replaces a change still waiting for review."""
    for review in session.scalars(
        select(Review).where(
            Review.organization_id == organization_id,
            Review.kind == "dossier_change",
            Review.status.in_([s.value for s in PENDING]),
        )
    ):
        change_review_status(
            session, review, ReviewStatus.SUPERSEDED, actor=actor, detail="a newer record came"
        )


def pending_change(session: Session, organization_id: int) -> tuple[Review, DossierChange] | None:
    """The dossier change waiting for review, if any."""
    row = session.execute(
        select(Review, DossierChange)
        .join(DossierChange, DossierChange.id == Review.dossier_change_id)
        .where(
            Review.organization_id == organization_id,
            Review.kind == "dossier_change",
            Review.status.in_([s.value for s in PENDING]),
        )
        .order_by(Review.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def decision_reasons(session: Session, decision_id: int | None) -> list[dict[str, Any]]:
    """The reasons (with evidence) a recorded decision gave; none for no decision."""
    record = session.get(DecisionRecord, decision_id) if decision_id is not None else None
    return list(record.reasons) if record is not None else []


def get_dossier_change(session: Session, change_id: int) -> DossierChange:
    change = session.get(DossierChange, change_id)
    if change is None:
        raise NotFoundError(f"no dossier change {change_id}")
    return change


def decide_review(
    session: Session,
    review_id: int,
    *,
    approve: bool,
    actor: str,
    reason: str,
    policy: Policy,
    threshold: float,
) -> Review:
    """Decide a review; the final approval of a dossier change puts the new record in
    force, re-screened now (before the write transaction) so that its standing is fresh."""
    review = reviews.get_review(session, review_id)
    apply: reviews.Apply | None = None
    if (
        approve
        and review.kind == "dossier_change"
        and review.dossier_change_id is not None
        and not reviews.needs_second_approval(review)
    ):
        change = session.get(DossierChange, review.dossier_change_id)
        assert change is not None  # a foreign key
        dossier = Dossier.model_validate(change.data)
        outcome = decide(
            session,
            policy,
            threshold,
            dossier,
            request=None,
            organization_id=review.organization_id,
        )
        change_id = change.id

        def apply(session: Session, review: Review) -> None:
            _apply_change(session, review, change_id, outcome, actor)

    return reviews.decide(
        session, review_id, approve=approve, actor=actor, reason=reason, apply=apply
    )


def _apply_change(
    session: Session, review: Review, change_id: int, outcome: Outcome, actor: str
) -> None:
    change = session.get(DossierChange, change_id)
    record = session.get(DossierRecord, review.organization_id)
    assert change is not None
    assert record is not None
    record.data, record.updated_by, record.updated_at = change.data, change.submitted_by, utcnow()
    subject = f"organization:{review.organization_id}"
    audit.record(
        session,
        actor,
        "dossier.change_applied",
        subject,
        {"dossier_change_id": change.id, "review_id": review.id, "data": change.data},
    )
    _set_standing(session, review.organization_id, outcome)
    record_decision(
        session,
        outcome,
        kind="screening",
        subject=subject,
        actor=actor,
        organization_id=review.organization_id,
    )


def _set_standing(session: Session, organization_id: int, outcome: Outcome) -> None:
    standing = session.get(Standing, organization_id)
    reasons = [r.full() for r in outcome.reasons]
    if standing is None:
        session.add(
            Standing(organization_id=organization_id, decision=outcome.decision, reasons=reasons)
        )
    else:
        standing.decision, standing.reasons, standing.screened_at = (
            outcome.decision,
            reasons,
            utcnow(),
        )


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
    keep_standing(session, organization, outcome, actor=actor)
    return outcome


def keep_standing(
    session: Session, organization: Organization, outcome: Outcome, *, actor: str
) -> None:
    """Keep an outcome decided apart from any request as the standing; flushes only."""
    _set_standing(session, organization.id, outcome)
    record_decision(
        session,
        outcome,
        kind="screening",
        subject=f"organization:{organization.id}",
        actor=actor,
        organization_id=organization.id,
    )


def restand(
    session: Session, organization_id: int, policy: Policy, threshold: float, *, actor: str
) -> Outcome | None:
    """Decide the record in force again (after a clearance); commits. Screening runs
    before the write transaction."""
    dossier = get_dossier(session, organization_id)
    if dossier is None:
        return None
    outcome = decide(
        session, policy, threshold, dossier, request=None, organization_id=organization_id
    )
    session.rollback()
    begin_write(session)
    try:
        _set_standing(session, organization_id, outcome)
        record_decision(
            session,
            outcome,
            kind="screening",
            subject=f"organization:{organization_id}",
            actor=actor,
            organization_id=organization_id,
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return outcome


def clear_possible_match(
    session: Session,
    organization: Organization,
    entry_id: str,
    *,
    list_name: str | None,
    reason: str,
    actor: str,
    policy: Policy,
    threshold: float,
) -> Clearance:
    """Clear a possible match of the customer's record as a false positive; commits, and
    decides the customer's standing again."""
    organization_id = organization.id
    dossier = require_dossier(session, organization)
    entry, version_id = clearances.entry_in_force(session, entry_id, list_name)
    key = (entry.list_name, entry.entry_id)
    for existing in clearances.in_force(session, organization_id):
        if (existing.list_name, existing.entry_id) == key:
            raise ConflictError(
                f"entry {entry_id} is already cleared for {organization.name} "
                f"(clearance {existing.id})"
            )
    screener = lists.screener(session, threshold)
    names: list[tuple[str, str | None]] = [
        (n, dossier.headquarters_country) for n in dossier.names()
    ]
    names += [(name, country) for _, name, country in dossier.related_parties()]
    found = [
        m
        for name, country in names
        for m in screener.screen(name, country)
        if (m.entry.list_name, m.entry.entry_id) == key
    ]
    if not found:
        raise InvalidInputError(
            f"entry {entry_id} is not a possible match of any name in {organization.name}'s record",
            fields=["entry"],
        )
    if any(m.is_match for m in found):
        raise InvalidInputError(
            f"entry {entry_id} matches a name in {organization.name}'s record at or above "
            "the threshold: a match is not cleared as a false positive; decide its reviews",
            fields=["entry"],
        )
    clearance = clearances.clear(
        session, organization_id, entry, version_id, reason=reason, actor=actor
    )
    restand(session, organization_id, policy, threshold, actor=actor)
    return clearance


def undo_clearance(
    session: Session,
    organization_id: int,
    clearance_id: int,
    *,
    reason: str,
    actor: str,
    policy: Policy,
    threshold: float,
) -> Clearance:
    clearance = clearances.undo(session, organization_id, clearance_id, reason=reason, actor=actor)
    restand(session, organization_id, policy, threshold, actor=actor)
    return clearance


def standing_of(session: Session, organization_id: int) -> Standing | None:
    return session.get(Standing, organization_id)


def decisions(
    session: Session, organization_id: int | None = None, limit: int = 100
) -> list[DecisionRecord]:
    statement = select(DecisionRecord).order_by(DecisionRecord.id.desc()).limit(limit)
    if organization_id is not None:
        statement = statement.where(DecisionRecord.organization_id == organization_id)
    return list(session.scalars(statement))
