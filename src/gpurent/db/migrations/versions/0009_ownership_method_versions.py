"""ownership method versions

Each decision records the policy's version and the ownership method that counted the
customer's owners. Decisions made before this revision counted ownership by multiplying
shares along chains: they are marked so, and the worker decides those customers' standings
again once under the cascading test.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

METHOD_COMMENT = "how ownership was counted, e.g. cascading-50-v2"
BEFORE = "multiplied-v1"  # the method of every decision made before this revision
NOT_BY_POLICY = ("operator's own use", "lease without a customer")


def upgrade() -> None:
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_version", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "ownership_method", sa.String(length=64), nullable=True, comment=METHOD_COMMENT
            )
        )
    decisions = sa.table(
        "compliance_decisions", sa.column("policy", sa.String), sa.column("ownership_method")
    )
    # Decisions the policy did not make (the operator's own use) counted no ownership.
    op.execute(
        decisions.update()
        .where(decisions.c.policy.notin_(NOT_BY_POLICY))
        .values(ownership_method=BEFORE)
    )


def downgrade() -> None:
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.drop_column("ownership_method")
        batch_op.drop_column("policy_version")
