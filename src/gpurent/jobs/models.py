"""Jobs, their events, and usage records (idempotent: one per job, one per lease)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime, enum_values
from gpurent.jobs.states import JobStatus
from gpurent.timeutil import utcnow


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), index=True)
    command: Mapped[list[str]] = mapped_column(JSON)
    env: Mapped[dict[str, str]] = mapped_column(JSON)
    workdir: Mapped[str | None] = mapped_column(String(1000))
    image: Mapped[str | None] = mapped_column(String(500), comment="container image, if any")
    gpus: Mapped[int]
    node: Mapped[str] = mapped_column(String(128), comment="the node it runs on")
    gpu_indices: Mapped[list[int]] = mapped_column(JSON, comment="the leased GPUs it sees")
    backend: Mapped[str] = mapped_column(String(16))
    backend_ref: Mapped[str | None] = mapped_column(String(200), comment="pid, Slurm job id")
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16, values_callable=enum_values), index=True
    )
    exit_code: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text, comment="why it ended as it did")
    stop_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(32), comment="cancel or lease_end")
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by: Mapped[str] = mapped_column(String(200))


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))


class UsageRecord(Base):
    """GPU time, recorded once: the unique key makes a second recording a no-op."""

    __tablename__ = "usage_records"
    __table_args__ = (UniqueConstraint("kind", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), comment="job_used or lease_allocated")
    subject_id: Mapped[int] = mapped_column(comment="the job's or the lease's id")
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), index=True)
    gpu_seconds: Mapped[int]
    source: Mapped[str] = mapped_column(String(32), comment="process accounting, sacct, ...")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SlurmReservation(Base):
    """The Slurm reservation a whole-node lease has, as last set."""

    __tablename__ = "slurm_reservations"

    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[list[str]] = mapped_column(JSON)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JobSandbox(Base):
    """The Unix user a lease's jobs run as on the local backend (when gpurent is root),
    from the lease's first job until every process of it is gone after the lease."""

    __tablename__ = "job_sandboxes"
    __table_args__ = (
        # A uid serves one lease at a time.
        Index(
            "uq_job_sandboxes_uid_in_use",
            "uid",
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        ),
    )

    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), primary_key=True)
    uid: Mapped[int] = mapped_column(comment="also its gid")
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, comment="its processes killed, its workspace locked"
    )
    removed_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, comment="its workspace deleted, after the retention"
    )
