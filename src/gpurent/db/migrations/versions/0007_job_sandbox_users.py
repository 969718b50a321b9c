"""job sandbox users

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_sandboxes",
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False, comment="also its gid"),
        sa.Column("assigned_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "released_at",
            gpurent.db.base.UtcDateTime(timezone=True),
            nullable=True,
            comment="its processes killed, its workspace locked",
        ),
        sa.Column(
            "removed_at",
            gpurent.db.base.UtcDateTime(timezone=True),
            nullable=True,
            comment="its workspace deleted, after the retention",
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_job_sandboxes_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("lease_id", name=op.f("pk_job_sandboxes")),
    )
    with op.batch_alter_table("job_sandboxes", schema=None) as batch_op:
        batch_op.create_index(
            "uq_job_sandboxes_uid_in_use",
            ["uid"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("job_sandboxes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_job_sandboxes_uid_in_use",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
    op.drop_table("job_sandboxes")
