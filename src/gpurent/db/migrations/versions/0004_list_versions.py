"""restricted-party list versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 02:42:34.315178
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "dataset", sa.String(length=64), nullable=False, comment="ofac-sdn, ofac-cons, csl, ..."
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False, comment="file names as imported"),
        sa.Column(
            "sha256", sa.String(length=64), nullable=False, comment="of the files' bytes, in order"
        ),
        sa.Column("published", sa.String(length=32), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("link_count", sa.Integer(), nullable=False),
        sa.Column("imported_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("superseded_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_versions")),
    )
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_list_versions_current",
            ["dataset"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )

    op.create_table(
        "list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("entry_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["list_versions.id"],
            name=op.f("fk_list_entries_version_id_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_entries")),
    )
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_entries_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "list_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("owned_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["list_versions.id"],
            name=op.f("fk_list_links_version_id_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_links")),
    )
    with op.batch_alter_table("list_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_links_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("list_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_links_version_id"))

    op.drop_table("list_links")
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_entries_version_id"))

    op.drop_table("list_entries")
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_list_versions_current",
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )

    op.drop_table("list_versions")
