"""Standings decided again, once, after an upgrade changed how they are decided.

Every decision records the policy's version and the ownership method
(`ownership.OWNERSHIP_METHOD`). A customer whose latest screening was decided by another
method or another policy version is stale: the worker decides it again (a batch per
round, screening before the write transaction), records the new standing with its
reasons, and raises an alert for every standing that changed. The write re-checks, with
the standings' rows locked (SQLite: the write lock), that nobody did it meanwhile, so
that several workers decide each customer once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.compliance import monitoring, service
from gpurent.compliance.models import DecisionRecord, DossierRecord, Standing
from gpurent.compliance.ownership import OWNERSHIP_METHOD
from gpurent.compliance.policy import Outcome, Policy
from gpurent.db.engine import begin_write

BATCH = 20  # customers screened, then written in one short transaction
PER_ROUND = 200  # customers a worker round decides at most


@dataclass
class RedecideReport:
    decided: int = 0
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # name, before, after
    remaining: int = 0


def stale(
    session: Session,
    policy: Policy,
    limit: int | None = None,
    among: list[int] | None = None,
) -> list[int]:
    """Customers (with a standing) whose latest screening was decided by another
    ownership method or policy version, or before decisions recorded them."""
    latest = (
        select(DecisionRecord.organization_id, func.max(DecisionRecord.id).label("id"))
        .where(DecisionRecord.kind == "screening")
        .group_by(DecisionRecord.organization_id)
        .subquery()
    )
    statement = (
        select(Standing.organization_id)
        .join(DossierRecord, DossierRecord.organization_id == Standing.organization_id)
        .outerjoin(latest, latest.c.organization_id == Standing.organization_id)
        .outerjoin(DecisionRecord, DecisionRecord.id == latest.c.id)
        .where(
            or_(
                DecisionRecord.id.is_(None),
                DecisionRecord.ownership_method.is_(None),
                DecisionRecord.ownership_method != OWNERSHIP_METHOD,
                DecisionRecord.policy_version.is_(None),
                DecisionRecord.policy_version != policy.version,
            )
        )
        .order_by(Standing.organization_id)
        .limit(limit)
    )
    if among is not None:
        statement = statement.where(Standing.organization_id.in_(among))
    return list(session.scalars(statement))


def redecide_stale(
    session: Session,
    policy: Policy,
    threshold: float,
    *,
    hold: timedelta,
    actor: str,
    limit: int | None = PER_ROUND,
) -> RedecideReport:
    """Decide the stale standings again (at most `limit`); commits per batch."""
    report = RedecideReport()
    session.rollback()
    ids = stale(session, policy, limit)
    session.commit()  # ends the read: each batch screens, then writes briefly
    for first in range(0, len(ids), BATCH):
        decided: list[tuple[Organization, Outcome]] = []
        for organization_id in ids[first : first + BATCH]:
            organization = session.get(Organization, organization_id)
            dossier = service.get_dossier(session, organization_id)
            if organization is None or dossier is None:
                continue
            outcome = service.decide(
                session, policy, threshold, dossier, request=None, organization_id=organization_id
            )
            decided.append((organization, outcome))
        session.commit()  # the screening's reads end before the write lock is taken
        if decided:
            _write(session, policy, decided, hold, actor, report)
        session.expunge_all()
    report.remaining = len(stale(session, policy, 1))
    if report.decided:
        audit.record(
            session,
            actor,
            "compliance.redecide",
            "customers",
            {
                "ownership_method": OWNERSHIP_METHOD,
                "policy_version": policy.version,
                "decided": report.decided,
                "changed": [list(c) for c in report.changed],
            },
        )
    session.commit()
    return report


def _write(
    session: Session,
    policy: Policy,
    decided: list[tuple[Organization, Outcome]],
    hold: timedelta,
    actor: str,
    report: RedecideReport,
) -> None:
    begin_write(session)
    ids = [organization.id for organization, _ in decided]
    # Rows another worker holds are that worker's to decide.
    standings = {
        s.organization_id: s
        for s in session.scalars(
            select(Standing)
            .where(Standing.organization_id.in_(ids))
            .with_for_update(skip_locked=True)
        )
    }
    still = set(stale(session, policy, among=list(standings))) if standings else set()
    rescreen = monitoring.RescreenReport()
    for organization, outcome in decided:
        standing = standings.get(organization.id)
        if standing is None or organization.id not in still:
            continue
        before = standing.decision
        service.keep_standing(session, organization, outcome, actor=actor)
        report.decided += 1
        if outcome.decision != before:
            report.changed.append((organization.name, before, outcome.decision))
            monitoring.note_change(session, organization, before, outcome, actor)
            if outcome.decision == "deny":
                # The same consequences as a denial found by a rescreen.
                monitoring._on_denied(session, organization, hold, actor, rescreen)
    session.commit()
