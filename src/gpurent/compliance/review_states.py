"""Review statuses, the table of allowed transitions, and the one function that changes a
review's status (with an event in its history and a record in the audit log)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.compliance.models import Review, ReviewEvent
from gpurent.errors import InvalidTransitionError
from gpurent.timeutil import utcnow


class ReviewStatus(StrEnum):
    OPEN = "open"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"  # four eyes: one officer approved
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # a lease's hold ran out before anyone decided
    SUPERSEDED = "superseded"  # a dossier change replaced by a newer record


PENDING = frozenset({ReviewStatus.OPEN, ReviewStatus.AWAITING_SECOND_APPROVAL})

ALLOWED_TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.OPEN: frozenset(
        {
            ReviewStatus.AWAITING_SECOND_APPROVAL,
            ReviewStatus.APPROVED,
            ReviewStatus.DENIED,
            ReviewStatus.EXPIRED,
            ReviewStatus.SUPERSEDED,
        }
    ),
    ReviewStatus.AWAITING_SECOND_APPROVAL: frozenset(
        {
            ReviewStatus.APPROVED,
            ReviewStatus.DENIED,
            ReviewStatus.EXPIRED,
            ReviewStatus.SUPERSEDED,
        }
    ),
    ReviewStatus.APPROVED: frozenset(),
    ReviewStatus.DENIED: frozenset(),
    ReviewStatus.EXPIRED: frozenset(),
    ReviewStatus.SUPERSEDED: frozenset(),
}


def record_event(
    session: Session,
    review: Review,
    kind: str,
    *,
    actor: str,
    detail: str = "",
    from_status: str | None = None,
    to_status: str | None = None,
) -> ReviewEvent:
    """One line of the review's history, also in the audit log; flushes nothing."""
    event = ReviewEvent(
        review_id=review.id,
        at=utcnow(),
        actor=actor,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail=detail,
    )
    session.add(event)
    audit.record(
        session,
        actor,
        f"review.{kind}",
        f"review:{review.id}",
        {
            "organization_id": review.organization_id,
            "review_kind": review.kind,
            "lease_id": review.lease_id,
            "dossier_change_id": review.dossier_change_id,
            "from": from_status,
            "to": to_status,
            "detail": detail,
        },
    )
    return event


def change_review_status(
    session: Session, review: Review, target: ReviewStatus, *, actor: str, detail: str = ""
) -> ReviewEvent:
    """Check the transition table, change the status, record the event; flushes only."""
    current = ReviewStatus(review.status)
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "nothing (final)"
        raise InvalidTransitionError(
            f"review {review.id} is {current} and cannot become {target} "
            f"(from {current}: {allowed})",
            fields=["status"],
        )
    review.status = target.value
    if target not in PENDING:
        review.decided_at, review.decided_by, review.reason = utcnow(), actor, detail
    return record_event(
        session,
        review,
        target.value,
        actor=actor,
        detail=detail,
        from_status=current.value,
        to_status=target.value,
    )
