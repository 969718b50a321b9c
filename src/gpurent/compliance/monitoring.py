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
from gpurent.compliance import service
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import LinkIndex
from gpurent.compliance.models import Alert, DossierRecord, Review, Standing
from gpurent.compliance.policy import Policy
from gpurent.leases.models import Lease
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.screening import ListEntry, Screener
from gpurent.timeutil import utcnow

COMMIT_EVERY = 200


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
            session.add(
                Review(
                    organization_id=organization.id,
                    lease_id=lease.id,
                    status="open",
                    hold_until=max(utcnow() + hold, lease.starts_at),
                )
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
    total = len(rows)
    for done, (organization, data, before) in enumerate(rows, start=1):
        dossier = Dossier.model_validate(data)
        if delta is not None and before == "allow" and not delta.touches(dossier):
            report.screened += 1
            report.unaffected += 1
            if done % COMMIT_EVERY == 0 and progress is not None:
                progress(done, total)
            continue
        outcome = service.refresh_standing(
            session, organization, dossier, policy, threshold, actor=actor
        )
        report.screened += 1
        if outcome.decision != before:
            report.changed += 1
            if outcome.decision == "deny":
                report.newly_denied.append(organization.name)
                _on_denied(session, organization, hold, actor, report)
        if done % COMMIT_EVERY == 0 or done == total:
            session.commit()
            # Keep the session small: flushes look at every object it holds.
            session.expunge_all()
            if progress is not None:
                progress(done, total)
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
