"""fleet revision: a counter that tells processes to reload the fleet layout

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 01:06:54.513688
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_revision")),
    )
    op.execute("INSERT INTO fleet_revision (id, value) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("fleet_revision")
