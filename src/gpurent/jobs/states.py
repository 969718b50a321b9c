"""Job statuses and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"  # accepted, not yet handed to the backend
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit, or the backend could not run it
    CANCELLED = "cancelled"  # the renter cancelled it
    STOPPED = "stopped"  # stopped because its lease ended


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.STOPPED})
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.STOPPED}
    ),
    JobStatus.RUNNING: FINAL,
    **{status: frozenset() for status in FINAL},
}
