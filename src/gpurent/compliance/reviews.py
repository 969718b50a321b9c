"""Reviews run as cases: opened with their causes and a due time, claimed or assigned,
annotated, decided with a written reason, with four eyes where a listed party, ownership
or a possible match caused them. Every step is in the review's history and the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.accounts.models import User
from gpurent.accounts.roles import Permission, allows
from gpurent.compliance.models import Review, ReviewEvent
from gpurent.compliance.policy import Policy
from gpurent.compliance.review_states import (
    PENDING,
    ReviewStatus,
    change_review_status,
    record_event,
)
from gpurent.config import load_settings
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.leases.changes import lock_lease
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.timeutil import as_utc, utcnow

# The checks whose findings one officer alone may not wave through (and any other check
# about ownership or listed parties that a policy file brings).
FOUR_EYES_CHECKS = frozenset(
    {"listed", "listed_ownership", "ownership_undetermined", "listed_owner", "possible_match"}
)

Apply = Callable[[Session, Review], None]


class FourEyesError(ConflictError):
    code = "four_eyes"


def needs_four_eyes(policy: Policy, rules: Iterable[str]) -> bool:
    """Whether any of the rules (by id) is a listed-party, ownership or possible-match check."""
    checks = {rule.id: rule.check for rule in policy.rules}
    # A rule the policy in force no longer knows (renamed by an upgrade) keeps four eyes.
    return any(rule not in checks or _four_eyes_check(checks[rule]) for rule in rules)


def _four_eyes_check(check: str) -> bool:
    return check in FOUR_EYES_CHECKS or "ownership" in check or check.startswith("listed")


def open_review(
    session: Session,
    *,
    organization_id: int,
    actor: str,
    causes: list[str],
    four_eyes: bool,
    kind: str = "lease",
    lease_id: int | None = None,
    dossier_change_id: int | None = None,
    decision_id: int | None = None,
    hold_until: datetime | None = None,
    sla_hours: float | None = None,
    detail: str = "",
) -> Review:
    """A new case in the queue, due within the SLA; flushes only."""
    now = utcnow()
    hours = sla_hours if sla_hours is not None else load_settings().review_sla_hours
    review = Review(
        organization_id=organization_id,
        kind=kind,
        lease_id=lease_id,
        dossier_change_id=dossier_change_id,
        decision_id=decision_id,
        status=ReviewStatus.OPEN.value,
        causes=causes,
        four_eyes=four_eyes,
        opened_at=now,
        hold_until=hold_until,
        due_at=now + timedelta(hours=hours),
    )
    session.add(review)
    session.flush()
    record_event(
        session,
        review,
        "opened",
        actor=actor,
        detail=detail or f"caused by: {', '.join(causes) or 'nothing recorded'}",
        to_status=review.status,
    )
    return review


def is_overdue(review: Review, now: datetime | None = None) -> bool:
    return (
        review.status in PENDING
        and review.due_at is not None
        and as_utc(review.due_at) <= (now or utcnow())
    )


def list_reviews(
    session: Session,
    status: str | None = "pending",
    organization_id: int | None = None,
    *,
    overdue: bool = False,
    now: datetime | None = None,
) -> list[Review]:
    """Reviews by status ("pending": open or awaiting a second approval; None: all)."""
    known = {"pending", *(s.value for s in ReviewStatus)}
    if status is not None and status not in known:
        raise InvalidInputError(
            f"status must be one of {', '.join(sorted(known))} (or none for all)",
            fields=["status"],
        )
    statement = select(Review).order_by(Review.id)
    if status == "pending" or overdue:
        statement = statement.where(Review.status.in_([s.value for s in PENDING]))
    elif status:
        statement = statement.where(Review.status == status)
    if organization_id is not None:
        statement = statement.where(Review.organization_id == organization_id)
    if overdue:
        statement = statement.where(Review.due_at <= (now or utcnow()))
    return list(session.scalars(statement))


def overdue_count(session: Session, now: datetime | None = None) -> int:
    """Pending reviews past their due time (the Prometheus gauge)."""
    count = session.scalar(
        select(func.count(Review.id)).where(
            Review.status.in_([s.value for s in PENDING]), Review.due_at <= (now or utcnow())
        )
    )
    return int(count or 0)


def get_review(session: Session, review_id: int, *, lock: bool = False) -> Review:
    review = session.get(Review, review_id, with_for_update=lock)
    if review is None:
        raise NotFoundError(f"no review {review_id}")
    return review


def history(session: Session, review_id: int) -> list[ReviewEvent]:
    return list(
        session.scalars(
            select(ReviewEvent).where(ReviewEvent.review_id == review_id).order_by(ReviewEvent.id)
        )
    )


def _step(session: Session, review_id: int, work: Callable[[Review], None]) -> Review:
    """One write transaction on a pending review, its row locked; commits."""
    session.rollback()
    begin_write(session)
    try:
        review = get_review(session, review_id, lock=True)
        if review.status not in PENDING:
            raise ConflictError(f"review {review_id} is already {review.status}")
        work(review)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return review


def claim(session: Session, review_id: int, *, actor: str) -> Review:
    """The calling officer takes the case (a case someone else holds is reassigned)."""

    def work(review: Review) -> None:
        if review.assignee is not None and review.assignee != actor:
            raise ConflictError(
                f"review {review_id} is assigned to {review.assignee}: reassign it instead",
                fields=["assignee"],
            )
        review.assignee = actor
        record_event(session, review, "claimed", actor=actor, detail=f"assignee: {actor}")

    return _step(session, review_id, work)


def assign(session: Session, review_id: int, *, user: str, actor: str) -> Review:
    """Hand the case to a compliance officer (by user name)."""
    officer = session.scalars(select(User).where(User.name == user)).one_or_none()
    if officer is None or not allows(officer.role, Permission.REVIEW):
        raise InvalidInputError(
            f"{user!r} is not a compliance officer (a user who may decide reviews)",
            fields=["assignee"],
        )
    assignee = f"{officer.name}@{officer.organization.name}"

    def work(review: Review) -> None:
        before = review.assignee
        review.assignee = assignee
        record_event(
            session, review, "assigned", actor=actor, detail=f"{before or 'nobody'} -> {assignee}"
        )

    return _step(session, review_id, work)


def note(session: Session, review_id: int, *, text: str, actor: str) -> Review:
    if not text.strip():
        raise InvalidInputError("a note needs some text", fields=["text"])

    def work(review: Review) -> None:
        record_event(session, review, "note", actor=actor, detail=text)

    return _step(session, review_id, work)


def _lease_decided(session: Session, review: Review, approve: bool, actor: str, why: str) -> None:
    if review.lease_id is None:
        return
    lease = lock_lease(session, review.lease_id)
    if lease.status != LeaseStatus.PENDING_REVIEW:
        return
    if approve:
        now = utcnow()
        target = LeaseStatus.ACTIVE if as_utc(lease.starts_at) <= now else LeaseStatus.SCHEDULED
        # The renter reads lease events: the officer's reason stays in the review's history.
        change_status(session, lease, target, actor=actor, detail="approved by compliance")
        return
    change_status(session, lease, LeaseStatus.REJECTED, actor=actor, detail="refused by compliance")
    for allocation in lease.allocations:
        allocation.live = False


def needs_second_approval(review: Review) -> bool:
    """Whether the next approval is a first one that four eyes wants seconded."""
    return review.four_eyes and review.status == ReviewStatus.OPEN


def decide(
    session: Session,
    review_id: int,
    *,
    approve: bool,
    actor: str,
    reason: str,
    apply: Apply | None = None,
) -> Review:
    """Deny, or approve: a four-eyes case first waits for a second, different officer;
    the final approval lets the lease go ahead (or `apply`s a dossier change)."""
    if not reason.strip():
        raise InvalidInputError("a decision needs a written reason", fields=["reason"])

    def work(review: Review) -> None:
        if not approve:
            _lease_decided(session, review, False, actor, reason)
            change_review_status(session, review, ReviewStatus.DENIED, actor=actor, detail=reason)
            return
        if needs_second_approval(review):
            review.first_approved_by, review.first_approved_at = actor, utcnow()
            change_review_status(
                session,
                review,
                ReviewStatus.AWAITING_SECOND_APPROVAL,
                actor=actor,
                detail=f"first approval: {reason}",
            )
            return
        if review.status == ReviewStatus.AWAITING_SECOND_APPROVAL and (
            review.first_approved_by == actor
        ):
            raise FourEyesError(
                f"review {review_id} needs a second approval by another compliance officer "
                f"({actor} gave the first)",
                fields=["actor"],
            )
        if review.kind == "dossier_change":
            if apply is None:  # it became the final approval since the caller looked
                raise ConflictError(f"review {review_id} changed meanwhile: decide it again")
            apply(session, review)
        _lease_decided(session, review, True, actor, reason)
        change_review_status(session, review, ReviewStatus.APPROVED, actor=actor, detail=reason)

    return _step(session, review_id, work)


def expire_due(session: Session, now: datetime | None = None, actor: str = "worker") -> list[int]:
    """Lease reviews not decided before the hold ran out: the lease is rejected and its
    GPUs freed. (A dossier change holds no capacity: it waits, overdue, for an officer.)"""
    now = now or utcnow()
    session.rollback()
    begin_write(session)
    expired: list[int] = []
    try:
        due = session.scalars(
            select(Review).where(
                Review.status.in_([s.value for s in PENDING]),
                Review.hold_until.is_not(None),
                Review.hold_until <= now,
            )
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
            change_review_status(
                session,
                review,
                ReviewStatus.EXPIRED,
                actor=actor,
                detail="hold expired without a decision",
            )
            expired.append(review.id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return expired
