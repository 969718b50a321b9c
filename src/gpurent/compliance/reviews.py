"""The review queue: leases held for a compliance officer, decided with a written reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.compliance.models import Review
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.leases.changes import lock_lease
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.timeutil import as_utc, utcnow


def list_reviews(
    session: Session, status: str | None = "open", organization_id: int | None = None
) -> list[Review]:
    statement = select(Review).order_by(Review.id)
    if status:
        statement = statement.where(Review.status == status)
    if organization_id is not None:
        statement = statement.where(Review.organization_id == organization_id)
    return list(session.scalars(statement))


def get_review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFoundError(f"no review {review_id}")
    return review


def _close(session: Session, review: Review, status: str, actor: str, reason: str) -> None:
    review.status, review.decided_by, review.reason = status, actor, reason
    review.decided_at = utcnow()
    audit.record(
        session,
        actor,
        f"review.{status}",
        f"review:{review.id}",
        {"lease_id": review.lease_id, "organization_id": review.organization_id, "reason": reason},
    )


def decide(session: Session, review_id: int, *, approve: bool, actor: str, reason: str) -> Review:
    """Approve (the lease goes ahead) or deny (its GPUs are freed), with a reason."""
    if not reason.strip():
        raise InvalidInputError("a decision needs a written reason", fields=["reason"])
    session.rollback()
    begin_write(session)
    try:
        review = get_review(session, review_id)
        if review.status != "open":
            raise ConflictError(f"review {review_id} is already {review.status}")
        if review.lease_id is not None:
            lease = lock_lease(session, review.lease_id)
            if lease.status == LeaseStatus.PENDING_REVIEW:
                if approve:
                    now = utcnow()
                    target = (
                        LeaseStatus.ACTIVE
                        if as_utc(lease.starts_at) <= now
                        else LeaseStatus.SCHEDULED
                    )
                    change_status(session, lease, target, actor=actor, detail=f"approved: {reason}")
                else:
                    change_status(
                        session,
                        lease,
                        LeaseStatus.REJECTED,
                        actor=actor,
                        detail=f"denied: {reason}",
                    )
                    for allocation in lease.allocations:
                        allocation.live = False
        _close(session, review, "approved" if approve else "denied", actor, reason)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return review


def expire_due(session: Session, now: datetime | None = None, actor: str = "worker") -> list[int]:
    """Reviews not decided in time: the lease is rejected and its GPUs freed."""
    now = now or utcnow()
    session.rollback()
    begin_write(session)
    expired: list[int] = []
    try:
        due = session.scalars(
            select(Review).where(Review.status == "open", Review.hold_until <= now)
        ).all()
        for review in due:
            if review.lease_id is not None:
                lease = lock_lease(session, review.lease_id)
                if lease.status == LeaseStatus.PENDING_REVIEW:
                    change_status(
                        session,
                        lease,
                        LeaseStatus.REJECTED,
                        actor=actor,
                        detail="review not decided before the hold expired",
                    )
                    for allocation in lease.allocations:
                        allocation.live = False
            _close(session, review, "expired", actor, "hold expired without a decision")
            expired.append(review.id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return expired
