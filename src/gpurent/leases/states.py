"""Lease statuses and the one table of allowed transitions (after Blazar's status.py)."""

from __future__ import annotations

from enum import StrEnum


class LeaseStatus(StrEnum):
    PENDING_REVIEW = "pending_review"  # held for the compliance officer; GPUs are kept
    SCHEDULED = "scheduled"  # booked, not started
    ACTIVE = "active"
    ENDED = "ended"  # reached its end, or released early
    CANCELLED = "cancelled"  # withdrawn before it started
    PREEMPTED = "preempted"  # interruptible, gave its GPUs to a lease that needed them
    REJECTED = "rejected"  # refused on review


ALLOWED_TRANSITIONS: dict[LeaseStatus, frozenset[LeaseStatus]] = {
    LeaseStatus.PENDING_REVIEW: frozenset(
        {
            LeaseStatus.SCHEDULED,
            LeaseStatus.ACTIVE,  # approved after its start time
            LeaseStatus.REJECTED,
            LeaseStatus.CANCELLED,
            LeaseStatus.PREEMPTED,
        }
    ),
    LeaseStatus.SCHEDULED: frozenset(
        {
            LeaseStatus.ACTIVE,
            LeaseStatus.CANCELLED,
            LeaseStatus.PREEMPTED,
            LeaseStatus.PENDING_REVIEW,  # held again: the customer's standing changed
        }
    ),
    LeaseStatus.ACTIVE: frozenset({LeaseStatus.ENDED, LeaseStatus.PREEMPTED}),
    LeaseStatus.ENDED: frozenset(),
    LeaseStatus.CANCELLED: frozenset(),
    LeaseStatus.PREEMPTED: frozenset(),
    LeaseStatus.REJECTED: frozenset(),
}

# Leases in these statuses hold their GPUs for their window.
HOLDING = frozenset({LeaseStatus.PENDING_REVIEW, LeaseStatus.SCHEDULED, LeaseStatus.ACTIVE})


def can_transition(current: LeaseStatus, target: LeaseStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]
