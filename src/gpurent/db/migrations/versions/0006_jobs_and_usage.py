"""jobs, usage records, slurm reservations, facility backends

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:39:34.179769
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("env", sa.JSON(), nullable=False),
        sa.Column("workdir", sa.String(length=1000), nullable=True),
        sa.Column("image", sa.String(length=500), nullable=True, comment="container image, if any"),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False, comment="the node it runs on"),
        sa.Column("gpu_indices", sa.JSON(), nullable=False, comment="the leased GPUs it sees"),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("backend_ref", sa.String(length=200), nullable=True, comment="pid, Slurm job id"),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                "stopped",
                name="jobstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True, comment="why it ended as it did"),
        sa.Column("stop_requested_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "stop_reason", sa.String(length=32), nullable=True, comment="cancel or lease_end"
        ),
        sa.Column("submitted_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["lease_id"], ["leases.id"], name=op.f("fk_jobs_lease_id_leases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_lease_id"), ["lease_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table(
        "slurm_reservations",
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("ends_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_slurm_reservations_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("lease_id", name=op.f("pk_slurm_reservations")),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.String(length=16), nullable=False, comment="job_used or lease_allocated"
        ),
        sa.Column(
            "subject_id", sa.Integer(), nullable=False, comment="the job's or the lease's id"
        ),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("gpu_seconds", sa.Integer(), nullable=False),
        sa.Column(
            "source", sa.String(length=32), nullable=False, comment="process accounting, sacct, ..."
        ),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("period_start", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("period_end", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_usage_records_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("kind", "subject_id", name=op.f("uq_usage_records_kind_subject_id")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_records_lease_id"), ["lease_id"], unique=False)

    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_events_job_id"), ["job_id"], unique=False)

    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "backend",
                sa.String(length=16),
                server_default="local",
                nullable=False,
                comment="where jobs run: local, slurm",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_column("backend")

    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_events_job_id"))

    op.drop_table("job_events")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_lease_id"))

    op.drop_table("usage_records")
    op.drop_table("slurm_reservations")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_jobs_lease_id"))

    op.drop_table("jobs")
