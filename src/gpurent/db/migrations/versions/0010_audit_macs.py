"""audit macs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:00:00

Records and the head get a keyed MAC. The key lives outside the database, so records
sealed before this revision keep none: the head remembers the last of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(
            sa.Column("mac", sa.String(length=64), nullable=True, comment="HMAC of the content")
        )
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(
            sa.Column(
                "legacy_through",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="the last record sealed without a MAC",
            )
        )
        batch.add_column(
            sa.Column("mac", sa.String(length=64), nullable=True, comment="HMAC of the three above")
        )
    op.execute("UPDATE audit_head SET legacy_through = last_seq")


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac")
        batch.drop_column("legacy_through")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("mac")
