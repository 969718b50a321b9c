"""slurm accounts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slurm_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "unix_user",
            sa.String(length=32),
            nullable=False,
            comment="the job's user on the cluster",
        ),
        sa.Column(
            "account", sa.String(length=64), nullable=False, comment="the job's Slurm account"
        ),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_slurm_accounts_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_slurm_accounts_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slurm_accounts")),
        sa.UniqueConstraint(
            "facility_id", "account", name=op.f("uq_slurm_accounts_facility_id_account")
        ),
        sa.UniqueConstraint(
            "facility_id",
            "organization_id",
            name=op.f("uq_slurm_accounts_facility_id_organization_id"),
        ),
        sa.UniqueConstraint(
            "facility_id", "unix_user", name=op.f("uq_slurm_accounts_facility_id_unix_user")
        ),
    )
    with op.batch_alter_table("slurm_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slurm_accounts_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slurm_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slurm_accounts_organization_id"))
    op.drop_table("slurm_accounts")
