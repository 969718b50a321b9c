"""Builders for the billing tests: a priced fleet, customers, leases booked at a given time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.models import Organization
from gpurent.billing import accrual, ledger
from gpurent.billing.balances import end_lease_at
from gpurent.billing.models import LedgerEntry
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.schemas import MoneyIn
from gpurent.billing.service import record_money
from gpurent.db.engine import begin_write
from gpurent.leases import booking
from gpurent.leases.changes import lock_lease
from gpurent.leases.lifecycle import end_due
from gpurent.leases.models import Lease
from gpurent.leases.schemas import LeaseRequest
from tests.builders import load_fleet, priced_fleet

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = BillingPolicy()


def priced(session: Session, nodes: int = 2) -> None:
    """A100-80GB nodes of 8 GPUs: 1.25 per GPU-hour on demand (8 GPUs: 10.00 an hour),
    0.50 interruptible, reserved 1 month 10% off, 3 months 20% off; minimum 60 s."""
    load_fleet(session, priced_fleet(nodes=nodes))


def customer(session: Session, name: str = "Acme", country: str = "US") -> Organization:
    return accounts.create_organization(session, name, "customer", country, actor="test")


def book(
    session: Session, org: Organization, now: datetime, *, held: bool = False, **fields: object
) -> Lease:
    fields.setdefault("gpu_model", "A100-80GB")
    fields.setdefault("gpus", 8)
    lease, _ = booking.request_lease(
        session,
        LeaseRequest.model_validate(fields),
        actor=f"renter@{org.name}",
        now=now,
        customer=booking.Customer(org.id, held),
    )
    return lease


def release_at(session: Session, lease_id: int, moment: datetime) -> None:
    """Release a running lease at a given time (what `release` does at the time it runs)."""
    session.rollback()
    begin_write(session)
    end_lease_at(session, lock_lease(session, lease_id), moment, detail="released early")
    session.commit()


def top_up(session: Session, org: Organization, amount: str, reference: str = "pay-1") -> None:
    money = MoneyIn(kind="top_up", amount=Decimal(amount), reference=reference)
    record_money(session, org, money, actor="operator@Operator", now=T0)


def rate(session: Session, now: datetime) -> accrual.RatingReport:
    return accrual.rate_due(session, now, POLICY)


def charged(session: Session, lease_id: int) -> Decimal:
    total = ledger.lease_totals(session, [lease_id]).get(lease_id, Decimal(0))
    session.rollback()
    return total


def end_due_at(session: Session, now: datetime) -> list[int]:
    session.rollback()
    return end_due(session, now)


def entries(session: Session, lease_id: int | None = None) -> list[LedgerEntry]:
    statement = select(LedgerEntry).order_by(LedgerEntry.id)
    if lease_id is not None:
        statement = statement.where(LedgerEntry.lease_id == lease_id)
    rows = list(session.scalars(statement))
    session.rollback()
    return rows


def seed_invoice(session: Session, organization_id: int, month: str = "2026-01") -> int:
    """An issued invoice of a closed month for an organization (one charge line)."""
    from gpurent.billing import invoices
    from gpurent.billing.models import EntryKind

    session.rollback()
    begin_write(session)
    ledger.append(
        session,
        [
            ledger.entry(
                organization_id=organization_id,
                kind=EntryKind.ADJUSTMENT,
                amount=Decimal("-12.50"),
                currency="USD",
                key=f"seed:{organization_id}",
                actor="test",
                at=datetime(2026, 1, 15, tzinfo=UTC),
                description="seed",
            )
        ],
    )
    session.commit()
    now = datetime(2026, 2, 1, 1, tzinfo=UTC)
    return invoices.issue(session, organization_id, month, now=now, actor="test").id
