"""billing: the ledger (append-only, by trigger), accounts, limits, events, invoices

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 15:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The database itself refuses to change the ledger or an issued invoice's figures.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER invoices_frozen BEFORE UPDATE OF organization_id, ref, kind, month,
    number, currency, subtotal, tax, total, snapshot, issued_at ON invoices
    BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes'); END""",
    """CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
    BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes'); END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION gpurent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% on %: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
      USING ERRCODE = 'restrict_violation'; END $$""",
    """CREATE FUNCTION gpurent_invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.organization_id, NEW.ref, NEW.kind, NEW.month, NEW.number, NEW.currency,
          NEW.subtotal, NEW.tax, NEW.total, NEW.snapshot::text, NEW.issued_at)
         IS DISTINCT FROM
         (OLD.organization_id, OLD.ref, OLD.kind, OLD.month, OLD.number, OLD.currency,
          OLD.subtotal, OLD.tax, OLD.total, OLD.snapshot::text, OLD.issued_at) THEN
        RAISE EXCEPTION 'an issued invoice never changes' USING ERRCODE = 'restrict_violation';
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION gpurent_refuse_change('ledger entries are append-only')""",
    """CREATE TRIGGER invoices_frozen BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION gpurent_invoice_frozen()""",
    """CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION gpurent_refuse_change('an issued invoice never changes')""",
]


def upgrade() -> None:
    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_invoice_counters")),
    )
    op.create_table(
        "billing_accounts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("prepaid", sa.Boolean(), nullable=False),
        sa.Column("credit_limit", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("monthly_cap", sa.Numeric(precision=16, scale=4), nullable=True),
        sa.Column("hard_cap", sa.Boolean(), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_billing_accounts_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_billing_accounts")),
    )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_billing_events_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_events")),
        sa.UniqueConstraint("key", name=op.f("uq_billing_events_key")),
    )
    with op.batch_alter_table("billing_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_events_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False, comment="one per org and month"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="invoice or credit_note"),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="issued, paid or void"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("tax", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["corrects_id"], ["invoices.id"], name=op.f("fk_invoices_corrects_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_invoices_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint("ref", name=op.f("uq_invoices_ref")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "lease_settlements",
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_lease_settlements_lease_id_leases")
        ),
        sa.PrimaryKeyConstraint("lease_id", name=op.f("pk_lease_settlements")),
    )
    op.create_table(
        "user_spending_limits",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("monthly_cap", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("hard_cap", sa.Boolean(), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_user_spending_limits_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_spending_limits_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_spending_limits")),
    )
    with op.batch_alter_table("user_spending_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_spending_limits_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "amount",
            sa.Numeric(precision=16, scale=4),
            nullable=False,
            comment="signed: + adds to the balance",
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "month", sa.String(length=7), nullable=False, comment="YYYY-MM (UTC) of the invoice"
        ),
        sa.Column("key", sa.String(length=200), nullable=False, comment="deduplicates charges"),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("period_start", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("period_end", gpurent.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("gpu_event_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("gpu_hours", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("rate", sa.Numeric(precision=16, scale=4), nullable=True, comment="per GPU-hour"),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gpu_event_id"],
            ["gpu_events.id"],
            name=op.f("fk_ledger_entries_gpu_event_id_gpu_events"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_ledger_entries_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_ledger_entries_lease_id_leases")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_ledger_entries_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reverses_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_entries_key")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_lease_id"), ["lease_id"], unique=False)
        batch_op.create_index(
            "ix_ledger_entries_organization_id_month", ["organization_id", "month"], unique=False
        )

    op.create_table(
        "invoice_entries",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_invoice_entries_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_entries_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_invoice_entries")),
    )
    with op.batch_alter_table("invoice_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_entries_invoice_id"), ["invoice_id"], unique=False
        )

    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("invoice_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_entries_invoice_id"))

    op.drop_table("invoice_entries")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_organization_id_month")
        batch_op.drop_index(batch_op.f("ix_ledger_entries_lease_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("user_spending_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_spending_limits_organization_id"))

    op.drop_table("user_spending_limits")
    op.drop_table("lease_settlements")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_organization_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("billing_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_events_organization_id"))

    op.drop_table("billing_events")
    op.drop_table("billing_accounts")
    op.drop_table("invoice_counters")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gpurent_invoice_frozen()")
        op.execute("DROP FUNCTION IF EXISTS gpurent_refuse_change()")
