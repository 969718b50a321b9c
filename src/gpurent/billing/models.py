"""Billing tables. The ledger is append-only: migration 0012 adds triggers that refuse
UPDATE and DELETE on it (SQLite and PostgreSQL), so a correction is always a new entry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime
from gpurent.timeutil import utcnow

AMOUNT = Numeric(16, 4)
QUANTITY = Numeric(18, 6)


class EntryKind(StrEnum):
    CHARGE = "charge"  # negative: what a lease cost (in arrears or in advance)
    CREDIT = "credit"  # positive: failed hardware, goodwill, credit notes
    TOP_UP = "top_up"  # positive: money received
    GRANT = "grant"  # positive: money given (trials, research programmes)
    ADJUSTMENT = "adjustment"  # either sign: reversals of earlier entries, corrections
    TAX = "tax"  # negative: tax on an issued invoice


FUNDING = (EntryKind.TOP_UP, EntryKind.GRANT)


class LedgerEntry(Base):
    """One movement of money for one organization; never edited, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_organization_id_month", "organization_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(AMOUNT, comment="signed: + adds to the balance")
    currency: Mapped[str] = mapped_column(String(3))
    month: Mapped[str] = mapped_column(String(7), comment="YYYY-MM (UTC) of the invoice")
    key: Mapped[str] = mapped_column(String(200), unique=True, comment="deduplicates charges")
    lease_id: Mapped[int | None] = mapped_column(ForeignKey("leases.id"), index=True)
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    gpu_event_id: Mapped[int | None] = mapped_column(ForeignKey("gpu_events.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    gpu_hours: Mapped[Decimal | None] = mapped_column(QUANTITY)
    rate: Mapped[Decimal | None] = mapped_column(AMOUNT, comment="per GPU-hour")
    description: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BillingAccount(Base):
    """How an organization pays. Without one it is invoiced in arrears (no balance check);
    with one it is prepaid, optionally with a credit line and a monthly cap."""

    __tablename__ = "billing_accounts"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    prepaid: Mapped[bool] = mapped_column(Boolean, default=True)
    credit_limit: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    monthly_cap: Mapped[Decimal | None] = mapped_column(AMOUNT)
    hard_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class UserSpendingLimit(Base):
    """A monthly cap on what one user's leases may cost."""

    __tablename__ = "user_spending_limits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    monthly_cap: Mapped[Decimal] = mapped_column(AMOUNT)
    hard_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class BillingEvent(Base):
    """A notice or an alert (low balance, exhausted, cap reached); once per key."""

    __tablename__ = "billing_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    detail: Mapped[str] = mapped_column(String(1000), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LeaseSettlement(Base):
    """A lease whose rating is complete: the worker no longer looks at it."""

    __tablename__ = "lease_settlements"

    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Invoice(Base):
    """An issued invoice or credit note: its snapshot holds the customer, every line, rate
    and tax as issued; nothing later (rate cards, dossiers) alters it."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True, comment="one per org and month")
    kind: Mapped[str] = mapped_column(String(16), comment="invoice or credit_note")
    month: Mapped[str] = mapped_column(String(7))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), comment="issued, paid or void")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(AMOUNT)
    tax: Mapped[Decimal] = mapped_column(AMOUNT)
    total: Mapped[Decimal] = mapped_column(AMOUNT)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))


class InvoiceEntry(Base):
    """Which invoice carries a ledger entry: each entry is on one invoice at most."""

    __tablename__ = "invoice_entries"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)


class InvoiceCounter(Base):
    """The last invoice number of a year: raised under its row lock, in the issuing
    transaction, so that numbers have no gaps and never repeat."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
