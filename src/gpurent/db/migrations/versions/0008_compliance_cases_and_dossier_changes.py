"""compliance cases and dossier changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STATUS_BEFORE = "open, approved, denied, expired"
_STATUS_AFTER = "open, awaiting_second_approval, approved, denied, expired, superseded"


def upgrade() -> None:
    op.create_table(
        "dossier_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False, comment="the submitted record"),
        sa.Column("previous", sa.JSON(), nullable=False, comment="the record in force"),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column(
            "decision", sa.String(length=8), nullable=False, comment="of the submitted record"
        ),
        sa.Column("standing_before", sa.String(length=8), nullable=False),
        sa.Column(
            "standing_reasons",
            sa.JSON(),
            nullable=False,
            comment="why the standing in force is what the change would lift",
        ),
        sa.Column("submitted_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_dossier_changes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_changes")),
    )
    with op.batch_alter_table("dossier_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_changes_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "clearances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("entry_id", sa.String(length=100), nullable=False),
        sa.Column("listed_name", sa.Text(), nullable=False),
        sa.Column(
            "entry_sha256", sa.String(length=64), nullable=False, comment="the entry as cleared"
        ),
        sa.Column("list_version_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cleared_by", sa.String(length=200), nullable=False),
        sa.Column("cleared_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.Column("undone_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("undo_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_version_id"],
            ["list_versions.id"],
            name=op.f("fk_clearances_list_version_id_list_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_clearances_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearances")),
    )
    with op.batch_alter_table("clearances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clearances_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_clearances_in_force",
            ["organization_id", "list_name", "entry_id"],
            unique=True,
            sqlite_where=sa.text("undone_at IS NULL"),
            postgresql_where=sa.text("undone_at IS NULL"),
        )

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.String(length=16),
                server_default="lease",
                nullable=False,
                comment="lease or dossier_change",
            )
        )
        batch_op.add_column(sa.Column("dossier_change_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("causes", sa.JSON(), nullable=True, comment="rules that caused it")
        )
        batch_op.add_column(
            sa.Column(
                "four_eyes",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="needs two officers",
            )
        )
        batch_op.add_column(
            sa.Column(
                "due_at",
                gpurent.db.base.UtcDateTime(timezone=True),
                nullable=True,
                comment="decide by (SLA)",
            )
        )
        batch_op.add_column(sa.Column("assignee", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("first_approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "first_approved_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
            comment=_STATUS_AFTER,
            existing_comment=_STATUS_BEFORE,
        )
        batch_op.alter_column(
            "hold_until",
            existing_type=gpurent.db.base.UtcDateTime(timezone=True),
            nullable=True,
            comment="capacity held until (leases only)",
            existing_comment="capacity held until",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reviews_dossier_change_id_dossier_changes"),
            "dossier_changes",
            ["dossier_change_id"],
            ["id"],
        )

    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=32),
            nullable=False,
            comment="opened, claimed, note, approved...",
        ),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"], ["reviews.id"], name=op.f("fk_review_events_review_id_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
    )
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_events_review_id"), ["review_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_events_review_id"))
    op.drop_table("review_events")

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reviews_dossier_change_id_dossier_changes"), type_="foreignkey"
        )
        batch_op.alter_column(
            "hold_until",
            existing_type=gpurent.db.base.UtcDateTime(timezone=True),
            nullable=False,
            comment="capacity held until",
            existing_comment="capacity held until (leases only)",
        )
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
            comment=_STATUS_BEFORE,
            existing_comment=_STATUS_AFTER,
        )
        for column in (
            "first_approved_at",
            "first_approved_by",
            "assignee",
            "due_at",
            "four_eyes",
            "causes",
            "dossier_change_id",
            "kind",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("clearances", schema=None) as batch_op:
        batch_op.drop_index("uq_clearances_in_force")
        batch_op.drop_index(batch_op.f("ix_clearances_organization_id"))
    op.drop_table("clearances")

    with op.batch_alter_table("dossier_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_changes_organization_id"))
    op.drop_table("dossier_changes")
