"""accounts, compliance and the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:03:09.645037
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "action", sa.String(length=64), nullable=False, comment="lease.status, screening, ..."
        ),
        sa.Column(
            "subject", sa.String(length=200), nullable=False, comment="what it is about: lease:12"
        ),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True, comment="position in the chain"),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_records_seq")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="customer or operator"),
        sa.Column(
            "country", sa.String(length=2), nullable=True, comment="headquarters, ISO alpha-2"
        ),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_alerts_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "compliance_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.String(length=32),
            nullable=False,
            comment="lease.create, lease.extend, check...",
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_compliance_decisions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_decisions")),
    )
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compliance_decisions_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "dossiers",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_dossiers_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_dossiers")),
    )
    op.create_table(
        "standings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False, comment="allow, review or deny"),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("screened_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_standings_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_standings")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "renter",
                "operator",
                "compliance",
                "admin",
                name="role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_users_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False, comment="SHA-256 of the token"),
        sa.Column(
            "prefix",
            sa.String(length=12),
            nullable=False,
            comment="first characters, to recognize it",
        ),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_tokens_digest")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="open, approved, denied, expired",
        ),
        sa.Column("opened_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "hold_until",
            gpurent.db.base.UtcDateTime(timezone=True),
            nullable=False,
            comment="capacity held until",
        ),
        sa.Column("decided_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["compliance_decisions.id"],
            name=op.f("fk_reviews_decision_id_compliance_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_reviews_lease_id_leases")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_reviews_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_lease_id"), ["lease_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reviews_organization_id"), ["organization_id"], unique=False
        )

    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "organization_id",
                sa.Integer(),
                nullable=True,
                comment="the customer; NULL before accounts",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_leases_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_leases_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_leases_organization_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_leases_organization_id"))
        batch_op.drop_column("organization_id")

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_organization_id"))
        batch_op.drop_index(batch_op.f("ix_reviews_lease_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_organization_id"))

    op.drop_table("users")
    op.drop_table("standings")
    op.drop_table("dossiers")
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_decisions_organization_id"))

    op.drop_table("compliance_decisions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_organization_id"))

    op.drop_table("alerts")
    op.drop_table("organizations")
    op.drop_table("audit_records")
    op.drop_table("audit_head")
