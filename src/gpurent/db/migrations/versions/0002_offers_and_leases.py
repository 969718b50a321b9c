"""offers and leases: rate cards, leases, allocations, lease events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:42:02.754088
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gpu_model_id", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column(
            "term",
            sa.Enum(
                "on_demand", "reserved", "interruptible", name="term", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("months", sa.Integer(), nullable=True, comment="reserved term length"),
        sa.Column("open_ended", sa.Boolean(), nullable=False, comment="ends_at is the maximum"),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_review",
                "scheduled",
                "active",
                "ended",
                "cancelled",
                "preempted",
                "rejected",
                name="leasestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("status_changed_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("flag", sa.String(length=500), nullable=True, comment="needs an operator's look"),
        sa.Column("before_end_notified", sa.Boolean(), nullable=False),
        sa.Column(
            "preempted_at",
            gpurent.db.base.UtcDateTime(timezone=True),
            nullable=True,
            comment="when an interruptible lease was told to yield; ends as preempted",
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "hourly_rate",
            sa.Numeric(precision=14, scale=4),
            nullable=False,
            comment="per GPU-hour, after discount",
        ),
        sa.Column("granularity_seconds", sa.Integer(), nullable=False),
        sa.Column("minimum_seconds", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_leases_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["gpu_model_id"], ["gpu_models.id"], name=op.f("fk_leases_gpu_model_id_gpu_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_leases_idempotency_key")),
    )
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.create_index("ix_leases_status_starts_at", ["status", "starts_at"], unique=False)

    op.create_table(
        "rate_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gpu_model_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "on_demand_hourly",
            sa.Numeric(precision=14, scale=4),
            nullable=False,
            comment="per GPU-hour",
        ),
        sa.Column("interruptible_hourly", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("reserved_discounts", sa.JSON(), nullable=False),
        sa.Column("granularity_seconds", sa.Integer(), nullable=False),
        sa.Column("minimum_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_rate_cards_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["gpu_model_id"], ["gpu_models.id"], name=op.f("fk_rate_cards_gpu_model_id_gpu_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint(
            "gpu_model_id", "facility_id", name=op.f("uq_rate_cards_gpu_model_id_facility_id")
        ),
    )
    op.create_table(
        "lease_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_lease_events_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lease_events")),
    )
    with op.batch_alter_table("lease_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lease_events_lease_id"), ["lease_id"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("gpu_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("preemptible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at >= starts_at", name=op.f("ck_allocations_ends_after_start")),
        sa.ForeignKeyConstraint(["gpu_id"], ["gpus.id"], name=op.f("fk_allocations_gpu_id_gpus")),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_allocations_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_allocations_gpu_id_starts_at", ["gpu_id", "starts_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_allocations_lease_id"), ["lease_id"], unique=False)
        batch_op.create_index("ix_allocations_updated_at", ["updated_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # No GPU is ever sold twice: live allocations of one GPU may not overlap in time.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE allocations ADD CONSTRAINT ex_allocations_no_overlap "
            "EXCLUDE USING gist (gpu_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (live)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE allocations DROP CONSTRAINT ex_allocations_no_overlap")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_updated_at")
        batch_op.drop_index(batch_op.f("ix_allocations_lease_id"))
        batch_op.drop_index("ix_allocations_gpu_id_starts_at")

    op.drop_table("allocations")
    with op.batch_alter_table("lease_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lease_events_lease_id"))

    op.drop_table("lease_events")
    op.drop_table("rate_cards")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_index("ix_leases_status_starts_at")

    op.drop_table("leases")
