"""The local sandbox over time: the policy from the settings, and what the worker does
after each lease with a job user (kill what is left, lock, and later delete the workspace)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gpurent.config import Settings
from gpurent.db.engine import begin_write
from gpurent.jobs.backends.local import LocalBackend
from gpurent.jobs.models import Job, JobSandbox
from gpurent.jobs.sandbox import users
from gpurent.jobs.states import JobStatus
from gpurent.leases.models import Lease
from gpurent.timeutil import as_utc

log = logging.getLogger("gpurent.jobs")

DEFAULT_UIDS: str = Settings.model_fields["job_uid_range"].default


@dataclass(frozen=True)
class SandboxPolicy:
    """How the local backend isolates jobs (from the settings)."""

    uids: range = field(default_factory=lambda: users.parse_range(DEFAULT_UIDS))
    retention: timedelta = timedelta(hours=24)
    customer_jobs_allowed: bool = False  # unsandboxed (not root): the operator's jobs only

    @staticmethod
    def of(settings: Settings) -> SandboxPolicy:
        return SandboxPolicy(
            uids=users.parse_range(settings.job_uid_range),
            retention=timedelta(hours=settings.job_retention_hours),
            customer_jobs_allowed=settings.unsafe_local_customer_jobs,
        )


def release_sandboxes(
    session: Session, backend: LocalBackend, now: datetime, grace: timedelta, retention: timedelta
) -> None:
    """After a lease's end and the grace, every process of its job user is killed and its
    workspace locked, then the uid is free; the workspace goes after the retention."""
    live = select(Job.id).where(
        Job.lease_id == JobSandbox.lease_id,
        Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
    )
    rows = session.execute(
        select(JobSandbox, Lease.ends_at)
        .join(Lease, Lease.id == JobSandbox.lease_id)
        # A uid is never released while a job of its lease may still start or run.
        .where(JobSandbox.removed_at.is_(None), ~live.exists())
    ).all()
    session.commit()
    for row, ends_at in rows:
        try:
            if row.released_at is None and as_utc(ends_at) + grace <= now:
                if not backend.sweep_user(row.uid):
                    log.warning("lease %s: processes of uid %s survive", row.lease_id, row.uid)
                    continue
                backend.lock_workspace(row.lease_id)
                _set_sandbox(session, row.lease_id, released_at=now)
            elif row.released_at is not None and as_utc(row.released_at) + retention <= now:
                backend.remove_workspace(row.lease_id)
                _set_sandbox(session, row.lease_id, removed_at=now)
        except Exception:  # retried next round
            session.rollback()
            log.exception("the sandbox of lease %s", row.lease_id)


def _set_sandbox(session: Session, lease_id: int, **values: datetime) -> None:
    begin_write(session)
    session.execute(update(JobSandbox).where(JobSandbox.lease_id == lease_id).values(**values))
    session.commit()
