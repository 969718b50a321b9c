"""Billing use cases: balances, the ledger, money recorded by operators, accounts and
limits, the booking check, and the worker's round. Public writes commit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization, User
from gpurent.accounts.service import Principal, get_organization, operator_organization
from gpurent.audit import service as audit
from gpurent.billing import accrual, balances, ledger
from gpurent.billing.invoices import draft as invoice_draft
from gpurent.billing.models import (
    BillingAccount,
    BillingEvent,
    EntryKind,
    Invoice,
    LedgerEntry,
    UserSpendingLimit,
)
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import month_of
from gpurent.billing.schemas import (
    AccountIn,
    AccountOut,
    BalanceOut,
    BillingEventOut,
    InvoiceOut,
    LedgerEntryOut,
    MoneyIn,
)
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from gpurent.leases.schemas import LeaseOut, LeaseRequest
from gpurent.leases.window import LeaseLimits
from gpurent.timeutil import utcnow

check_booking = balances.check_booking


def customer_for(session: Session, who: Principal, name: str | None) -> Organization | None:
    """The organization whose money a caller asks about: a renter's own; staff name one
    (none named: the operator's own, which has no bill)."""
    if who.own_organization_only:
        if name is not None and name not in (who.organization, str(who.organization_id)):
            raise NotFoundError(f"no organization {name}")
        return get_organization(session, who.organization_id)
    if name is not None:
        return get_organization(session, name)
    return operator_organization(session)


def check_lease_booking(
    session: Session,
    who: Principal,
    request: LeaseRequest,
    organization: str | None,
    *,
    limits: LeaseLimits,
    now: datetime | None = None,
) -> None:
    """Before a booking: refuse it if the balance or a hard cap says no (402 / 403). On the
    booking path: one query when neither the organization nor the user has limits."""
    if who.own_organization_only and organization in (
        None, who.organization, str(who.organization_id),
    ):  # fmt: skip
        organization_id: int | None = who.organization_id
    else:
        customer = customer_for(session, who, organization) if organization else None
        organization_id = customer.id if customer is not None else None
    user_id = who.user_id if who.user_id else None
    if organization_id is None or not balances.has_limits(session, organization_id, user_id):
        return
    balances.check_booking(
        session,
        organization_id,
        request,
        now=now or utcnow(),
        limits=limits,
        policy=BillingPolicy.from_environment(),
        user_actor=who.actor,
        user_id=user_id,
    )


def balance_out(session: Session, organization_id: int, now: datetime | None = None) -> BalanceOut:
    now = now or utcnow()
    view = balances.view(session, organization_id, now)
    events = session.scalars(
        select(BillingEvent)
        .where(BillingEvent.organization_id == organization_id)
        .order_by(BillingEvent.id.desc())
        .limit(20)
    )
    return BalanceOut(
        organization_id=organization_id,
        currency=view.currency,
        balance=view.balance,
        credit_limit=view.credit_limit,
        available=view.available,
        prepaid=view.prepaid,
        burn_per_hour=view.burn_per_hour,
        runs_out_at=view.runs_out_at,
        month_to_date=view.month_to_date,
        monthly_cap=view.monthly_cap,
        alerts=[BillingEventOut(at=e.at, kind=e.kind, detail=e.detail) for e in events],
    )


def ledger_page(
    session: Session,
    organization_id: int | None,
    *,
    lease_id: int | None = None,
    month: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[LedgerEntryOut], int]:
    statement = ledger.entries_query(organization_id, lease_id=lease_id, month=month)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(LedgerEntry.id).limit(limit).offset(offset))
    return [LedgerEntryOut.model_validate(row, from_attributes=True) for row in rows], total


def _ensure_account(session: Session, organization: Organization) -> BillingAccount:
    """The organization's account, opened (prepaid, USD) if it has none, and locked: two
    requests at once open one account and record one entry per reference."""
    if organization.kind != "customer":
        raise InvalidInputError(f"{organization.name} is the operator: it has no bill")
    connection = session.connection()
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        module.insert(BillingAccount)
        .values(
            organization_id=organization.id,
            currency="USD",
            prepaid=True,
            credit_limit=Decimal(0),
            hard_cap=False,
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    account = session.get(
        BillingAccount, organization.id, with_for_update=True, populate_existing=True
    )
    assert account is not None  # inserted above, or there already
    return account


def record_money(
    session: Session, organization: Organization, money: MoneyIn, *, actor: str,
    now: datetime | None = None,
) -> LedgerEntryOut:  # fmt: skip
    """A top-up (where a payment provider's webhook would post), a grant, a credit or an
    adjustment; the first one opens the organization's prepaid account. Commits."""
    now = now or utcnow()
    kind = EntryKind(money.kind)
    if money.amount == 0 or (kind is not EntryKind.ADJUSTMENT and money.amount < 0):
        raise InvalidInputError(f"a {kind.value} is a positive amount", fields=["amount"])
    begin_write(session)
    try:
        account = _ensure_account(session, organization)
        if money.currency != account.currency:
            raise InvalidInputError(
                f"{organization.name} is billed in {account.currency}", fields=["currency"]
            )
        key = f"{kind.value}:{organization.id}:{money.reference}"
        existing = session.scalars(select(LedgerEntry).where(LedgerEntry.key == key)).one_or_none()
        if existing is not None:
            if existing.amount != money.amount:
                raise ConflictError(
                    f"reference {money.reference} was recorded with another amount",
                    fields=["reference"],
                )
            session.commit()
            return LedgerEntryOut.model_validate(existing, from_attributes=True)
        balances.entry_funding(
            session, organization.id, kind, money.amount, currency=account.currency,
            actor=actor, now=now, reference=money.reference,
            description=money.description or kind.value.replace("_", "-"),
        )  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.key == key)).one()
    return LedgerEntryOut.model_validate(entry, from_attributes=True)


def set_account(
    session: Session, organization: Organization, change: AccountIn, *, actor: str
) -> AccountOut:
    """Credit line, prepaid or invoiced, the monthly cap (of the organization, or of one
    of its users with ``user``). Commits."""
    begin_write(session)
    try:
        account = _ensure_account(session, organization)
        if change.user is not None:
            _set_user_limit(session, organization, change)
        else:
            for name in ("prepaid", "credit_limit", "monthly_cap", "hard_cap"):
                value = getattr(change, name)
                if value is not None:
                    setattr(account, name, value)
        audit.record(
            session, actor, "billing.account", f"organization:{organization.id}",
            change.model_dump(mode="json", exclude_none=True),
        )  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return account_out(account)


def _set_user_limit(session: Session, organization: Organization, change: AccountIn) -> None:
    user = session.scalars(
        select(User).where(User.name == change.user, User.organization_id == organization.id)
    ).one_or_none()
    if user is None:
        raise NotFoundError(f"no user {change.user} in {organization.name}", fields=["user"])
    if change.monthly_cap is None:
        raise InvalidInputError("a user's limit needs monthly_cap", fields=["monthly_cap"])
    limit = session.get(UserSpendingLimit, user.id)
    if limit is None:
        limit = UserSpendingLimit(user_id=user.id, organization_id=organization.id)
        session.add(limit)
    limit.monthly_cap = change.monthly_cap
    limit.hard_cap = bool(change.hard_cap)


def account_out(account: BillingAccount) -> AccountOut:
    return AccountOut.model_validate(account, from_attributes=True)


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        status=invoice.status,
        organization_id=invoice.organization_id,
        month=invoice.month,
        currency=invoice.currency,
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        total=invoice.total,
        issued_at=invoice.issued_at,
        corrects_id=invoice.corrects_id,
        document={**invoice.snapshot, "status": invoice.status},
    )


def draft_out(session: Session, organization_id: int, month: str | None = None) -> InvoiceOut:
    content = invoice_draft(session, organization_id, month or month_of(utcnow()))
    content.pop("entry_ids", None)
    return InvoiceOut(
        id=None,
        number=None,
        kind="invoice",
        status="draft",
        organization_id=organization_id,
        month=content["month"],
        currency=content["currency"],
        subtotal=Decimal(content["subtotal"]),
        tax=Decimal(content["tax_amount"]),
        total=Decimal(content["total"]),
        issued_at=None,
        document=content,
    )


def visible_invoice(invoice: Invoice, who: Principal) -> Invoice:
    if who.own_organization_only and invoice.organization_id != who.organization_id:
        raise NotFoundError(f"no invoice {invoice.id}")
    return invoice


def with_cost(session: Session, leases: list[LeaseOut]) -> list[LeaseOut]:
    """Leases with what the ledger has charged them so far."""
    costs = ledger.lease_totals(session, [lease.id for lease in leases])
    return [
        lease.model_copy(update={"cost_to_date": costs.get(lease.id, Decimal("0.00"))})
        for lease in leases
    ]


# The last round that rated the running leases, per database, in this process: a running
# lease gets an entry at most once per rating interval, so reading every one of them on each
# round (every few seconds) would only find that nothing is due.
_running_rated: dict[str, datetime] = {}


def worker_round(
    session: Session, now: datetime, policy: BillingPolicy | None = None
) -> dict[str, Any]:
    """The worker's billing step: rate (the running leases twice per rating interval, the
    others every round), then notices and leases ended at zero (rated once more so that
    their last minutes are charged)."""
    policy = policy or BillingPolicy.from_environment()
    database = session.get_bind().engine.url.render_as_string(hide_password=True)
    last = _running_rated.get(database)
    running = last is None or not last <= now < last + policy.rating_interval / 2
    rated = accrual.rate_due(session, now, policy, running=running)
    if running:
        _running_rated[database] = now
    enforced = balances.enforce(session, now, policy)
    if enforced.ended:
        accrual.rate_due(session, now, policy, running=False)
    return {"entries": rated.entries, "notified": enforced.notified, "ended": enforced.ended}


def require_staff_customer(session: Session, who: Principal, reference: int | str) -> Organization:
    if who.own_organization_only:
        raise ForbiddenError("only the operator records money")
    return get_organization(session, reference)
