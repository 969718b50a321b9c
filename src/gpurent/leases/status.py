"""The one function through which a lease's status changes, and lease events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.errors import InvalidTransitionError
from gpurent.leases.models import Lease, LeaseEvent
from gpurent.leases.states import ALLOWED_TRANSITIONS, LeaseStatus, can_transition
from gpurent.timeutil import utcnow


def record_event(
    session: Session,
    lease: Lease,
    kind: str,
    *,
    actor: str,
    detail: str = "",
    from_status: LeaseStatus | None = None,
    to_status: LeaseStatus | None = None,
) -> LeaseEvent:
    event = LeaseEvent(
        lease_id=lease.id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail=detail,
        actor=actor,
    )
    session.add(event)
    return event


def change_status(
    session: Session, lease: Lease, target: LeaseStatus, *, actor: str, detail: str = ""
) -> LeaseEvent:
    """Check the transition table, change the status, record the event; flushes only."""
    current = lease.status
    if not can_transition(current, target):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "nothing (final)"
        raise InvalidTransitionError(
            f"lease {lease.id} is {current} and cannot become {target} (from {current}: {allowed})",
            fields=["status"],
        )
    lease.status = target
    lease.status_changed_at = utcnow()
    event = record_event(
        session,
        lease,
        target.value,
        actor=actor,
        detail=detail,
        from_status=current,
        to_status=target,
    )
    audit.record(
        session,
        actor,
        "lease.status",
        f"lease:{lease.id}",
        {"from": current.value, "to": target.value, "detail": detail},
    )
    session.flush()
    return event
