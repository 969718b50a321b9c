"""Continuous monitoring: rescreen every customer, e.g. after a new list version.

A customer who becomes denied has its future leases held for review and its active
leases flagged for the operator, and an alert is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.compliance import reviews, service
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import LinkIndex
from gpurent.compliance.models import Alert, DossierRecord, Standing
from gpurent.compliance.policy import Outcome, Policy
from gpurent.db.engine import begin_write
from gpurent.leases.models import Lease
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.screening import ListEntry, Screener
from gpurent.timeutil import utcnow

WRITE_EVERY = 20  # customers screened, then written in one short transaction


@dataclass
class RescreenReport:
    screened: int = 0
    changed: int = 0
    newly_denied: list[str] = field(default_factory=list)
    held_leases: list[int] = field(default_factory=list)
    unaffected: int = 0  # screened against the change only, which nothing in it resembled
    flagged_leases: list[int] = field(default_factory=list)


class _Delta:
    """What a list import changed, indexed for screening customers against it alone."""

    def __init__(self, entries: list[ListEntry], threshold: float) -> None:
        self.screener = Screener(entries, threshold) if entries else None
        self.links = LinkIndex()
        self.links.add_entries(entries)

    def touches(self, dossier: Dossier) -> bool:
        if self.screener is None:
            return False
        names: list[tuple[str, str | None]] = [
            (n, dossier.headquarters_country) for n in dossier.names()
        ]
        names += [(name, country) for _, name, country in dossier.related_parties()]
        if any(self.screener.screen(name, country) for name, country in names):
            return True
        return bool(self.links.flags(dossier))


def _on_denied(
    session: Session,
    organization: Organization,
    hold: timedelta,
    actor: str,
    report: RescreenReport,
) -> None:
    leases = session.scalars(
        select(Lease).where(
            Lease.organization_id == organization.id,
            Lease.status.in_([LeaseStatus.SCHEDULED, LeaseStatus.ACTIVE]),
        )
    ).all()
    for lease in leases:
        if lease.status == LeaseStatus.SCHEDULED:
            change_status(
                session,
                lease,
                LeaseStatus.PENDING_REVIEW,
                actor=actor,
                detail="customer denied on rescreening: held for review",
            )
            reviews.open_review(
                session,
                organization_id=organization.id,
                actor=actor,
                causes=["rescreening: customer denied"],
                four_eyes=True,
                lease_id=lease.id,
                hold_until=max(utcnow() + hold, lease.starts_at),
            )
            report.held_leases.append(lease.id)
        else:
            lease.flag = "customer denied on rescreening: the operator must decide"
            report.flagged_leases.append(lease.id)
    message = (
        f"{organization.name} is now denied by the export-control policy; "
        f"{len(report.held_leases)} future lease(s) held, active ones flagged"
    )
    session.add(Alert(organization_id=organization.id, kind="customer_denied", message=message))
    audit.record(session, actor, "alert", f"organization:{organization.id}", {"message": message})


def note_change(
    session: Session, organization: Organization, before: str | None, outcome: Outcome, actor: str
) -> None:
    """An alert for a standing that changed to anything but deny (which has its own)."""
    if before is None or outcome.decision in (before, "deny"):
        return
    message = (
        f"{organization.name}: standing changed from {before} to {outcome.decision} "
        f"(policy {outcome.policy}, ownership {outcome.ownership_method or 'not counted'}; "
        f"rules: {', '.join(r.rule for r in outcome.reasons) or 'none'})"
    )
    session.add(Alert(organization_id=organization.id, kind="standing_changed", message=message))
    audit.record(session, actor, "alert", f"organization:{organization.id}", {"message": message})


def _write_batch(
    session: Session,
    decided: list[tuple[Organization, Outcome, str | None]],
    hold: timedelta,
    actor: str,
    report: RescreenReport,
) -> None:
    """Keep a batch of screenings' outcomes in one short write transaction."""
    begin_write(session)
    for organization, outcome, before in decided:
        service.keep_standing(session, organization, outcome, actor=actor)
        if outcome.decision != before:
            report.changed += 1
            note_change(session, organization, before, outcome, actor)
            if outcome.decision == "deny":
                report.newly_denied.append(organization.name)
                _on_denied(session, organization, hold, actor, report)
    session.commit()


def rescreen_all(
    session: Session,
    policy: Policy,
    threshold: float,
    *,
    hold: timedelta,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    changed: tuple[list[ListEntry], set[str]] | None = None,
) -> RescreenReport:
    """Screen every customer again. With `changed` (what a list import added or altered,
    and what it removed), a customer in good standing is screened against the change
    only, and fully re-decided when something in it resembles a name in its record;
    customers under review or denied are always re-decided."""
    report = RescreenReport()
    delta = _Delta(changed[0], threshold) if changed is not None else None
    session.rollback()
    rows = session.execute(
        select(Organization, DossierRecord.data, Standing.decision)
        .join(DossierRecord, DossierRecord.organization_id == Organization.id)
        .outerjoin(Standing, Standing.organization_id == Organization.id)
        .order_by(Organization.id)
    ).all()
    session.commit()  # ends the read: each batch below screens, then writes briefly
    total = len(rows)
    for first in range(0, total, WRITE_EVERY):
        batch = rows[first : first + WRITE_EVERY]
        decided: list[tuple[Organization, Outcome, str | None]] = []
        for organization, data, before in batch:
            dossier = Dossier.model_validate(data)
            report.screened += 1
            if delta is not None and before == "allow" and not delta.touches(dossier):
                report.unaffected += 1
                continue
            outcome = service.decide(
                session, policy, threshold, dossier, request=None, organization_id=organization.id
            )
            decided.append((organization, outcome, before))
        session.commit()  # the screening's reads end before the write lock is taken
        if decided:
            _write_batch(session, decided, hold, actor, report)
        # Keep the session small: flushes look at every object it holds.
        session.expunge_all()
        if progress is not None:
            progress(first + len(batch), total)
    audit.record(
        session,
        actor,
        "rescreen",
        "customers",
        {
            "screened": report.screened,
            "against_changes_only": changed is not None,
            "unaffected": report.unaffected,
            "changed_standing": report.changed,
            "newly_denied": report.newly_denied,
        },
    )
    session.commit()
    return report
