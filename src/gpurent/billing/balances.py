"""Balances, burn rates, the booking check, low-balance notices, ending leases at zero, and
monthly spending caps with their alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization, User
from gpurent.billing import ledger
from gpurent.billing.models import (
    FUNDING,
    BillingAccount,
    BillingEvent,
    EntryKind,
    LedgerEntry,
    UserSpendingLimit,
)
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import SECONDS_PER_HOUR, month_of, round_money
from gpurent.catalog.models import GpuModel
from gpurent.db.engine import begin_write
from gpurent.errors import ForbiddenError, GpurentError
from gpurent.fleet.models import Facility
from gpurent.leases.models import Lease, LeaseEvent
from gpurent.leases.schemas import LeaseRequest
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from gpurent.leases.window import LeaseLimits, resolve_window
from gpurent.offers.models import RateCard
from gpurent.offers.service import rates_of
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months

ACTOR = "billing"
ARREARS = (Term.ON_DEMAND, Term.INTERRUPTIBLE)


class InsufficientBalanceError(GpurentError):
    status_code = 402
    code = "insufficient_balance"


class SpendingCapError(ForbiddenError):
    code = "spending_cap_reached"


@dataclass(frozen=True)
class BalanceView:
    organization_id: int
    currency: str
    balance: Decimal
    credit_limit: Decimal
    prepaid: bool
    burn_per_hour: Decimal
    runs_out_at: datetime | None
    month_to_date: Decimal
    monthly_cap: Decimal | None

    @property
    def available(self) -> Decimal:
        return self.balance + self.credit_limit


def has_limits(session: Session, organization_id: int, user_id: int | None) -> bool:
    """Whether the organization has a billing account or the user a cap (one query)."""
    account = select(BillingAccount.organization_id).where(
        BillingAccount.organization_id == organization_id
    )
    limit = select(UserSpendingLimit.user_id).where(UserSpendingLimit.user_id == user_id)
    found = session.execute(select(account.exists(), limit.exists())).one()
    return bool(found[0] or (user_id is not None and found[1]))


def account_of(session: Session, organization_id: int) -> BillingAccount | None:
    return session.get(BillingAccount, organization_id)


def burn_per_hour(session: Session, organization_id: int) -> Decimal:
    """What the organization's running on-demand and interruptible leases cost per hour."""
    total = session.scalar(
        select(func.sum(Lease.hourly_rate * Lease.gpus)).where(
            Lease.organization_id == organization_id,
            Lease.status == LeaseStatus.ACTIVE,
            Lease.term.in_(ARREARS),
        )
    )
    return Decimal(total or 0)


def month_to_date(session: Session, organization_id: int, now: datetime) -> Decimal:
    """Net charges this calendar month (UTC), credits deducted."""
    total = session.scalar(
        select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.organization_id == organization_id,
            LedgerEntry.month == month_of(now),
            LedgerEntry.lease_id.is_not(None),
        )
    )
    return -Decimal(total or 0)


def user_month_to_date(
    session: Session, user_actor: str, organization_id: int, now: datetime
) -> Decimal:
    """Net charges this month of the leases a user booked (their `created` event's actor)."""
    booked = select(LeaseEvent.lease_id).where(
        LeaseEvent.kind == "created", LeaseEvent.actor == user_actor
    )
    total = session.scalar(
        select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.organization_id == organization_id,
            LedgerEntry.month == month_of(now),
            LedgerEntry.lease_id.in_(booked),
        )
    )
    return -Decimal(total or 0)


def view(session: Session, organization_id: int, now: datetime) -> BalanceView:
    account = account_of(session, organization_id)
    balance = ledger.balance(session, organization_id)
    burn = burn_per_hour(session, organization_id)
    credit = account.credit_limit if account else Decimal(0)
    prepaid = account.prepaid if account else False
    runs_out = None
    if prepaid and burn > 0:
        seconds = max(Decimal(0), balance + credit) / burn * SECONDS_PER_HOUR
        runs_out = now + timedelta(seconds=int(seconds))
    return BalanceView(
        organization_id=organization_id,
        currency=account.currency if account else "USD",
        balance=balance,
        credit_limit=credit,
        prepaid=prepaid,
        burn_per_hour=burn,
        runs_out_at=runs_out,
        month_to_date=month_to_date(session, organization_id, now),
        monthly_cap=account.monthly_cap if account else None,
    )


def _offer_rate(session: Session, request: LeaseRequest) -> tuple[Decimal, str] | None:
    """The highest price per GPU-hour the request could get (its facility's, if named)."""
    statement = (
        select(RateCard)
        .join(GpuModel)
        .where(func.lower(GpuModel.name) == request.gpu_model.lower())
    )
    if request.facility:
        facility_ids = select(Facility.id).where(Facility.name == request.facility)
        statement = statement.where(
            RateCard.facility_id.in_(facility_ids) | RateCard.facility_id.is_(None)
        )
    best: tuple[Decimal, str] | None = None
    for card in session.scalars(statement):
        try:
            hourly = rates_of(card).hourly(request.term, request.months)
        except ValueError:
            continue
        if best is None or hourly > best[0]:
            best = (hourly, card.currency)
    return best


def required_for(
    request: LeaseRequest, hourly: Decimal, currency: str, now: datetime, limits: LeaseLimits,
    policy: BillingPolicy,
) -> Decimal:  # fmt: skip
    """What the balance must cover to start a lease: the configured hours of it (at most its
    window) in arrears; a reserved term's first period."""
    window = resolve_window(request, now, limits)
    if request.term is Term.RESERVED:
        first_end = add_months(window.start, 1)
        hours = Decimal(int((first_end - window.start).total_seconds())) / SECONDS_PER_HOUR
    else:
        span = Decimal(int((window.end - window.start).total_seconds())) / SECONDS_PER_HOUR
        hours = min(policy.minimum_balance_hours, span)
    return round_money(hourly * request.gpus * hours, currency)


def check_booking(
    session: Session,
    organization_id: int | None,
    request: LeaseRequest,
    *,
    now: datetime,
    limits: LeaseLimits,
    policy: BillingPolicy,
    user_actor: str | None = None,
    user_id: int | None = None,
) -> None:
    """Refuse a booking the balance (plus credit line) does not cover, or one past a hard
    monthly cap of the organization or the user. Organizations without a billing account
    are invoiced in arrears and not checked; reads only."""
    if organization_id is None:
        return
    organization = session.get(Organization, organization_id)
    account = account_of(session, organization_id)
    user_limit = session.get(UserSpendingLimit, user_id) if user_id else None
    if (
        organization is None
        or organization.kind != "customer"
        or (account is None and user_limit is None)
    ):
        return
    offer = _offer_rate(session, request)
    if offer is None:
        return  # booking itself says there is no offer
    required = required_for(request, offer[0], offer[1], now, limits, policy)
    if account is not None and account.prepaid:
        available = ledger.balance(session, organization_id) + account.credit_limit
        if available < required:
            raise InsufficientBalanceError(
                f"the balance ({available} {account.currency}, credit line included) does not "
                f"cover {required} {account.currency}, "
                + ("the first period of this term" if request.term is Term.RESERVED
                   else f"{policy.minimum_balance_hours} hour(s) of this lease")
                + "; top up first",
                fields=["gpus"],
            )  # fmt: skip
    if account is not None and account.hard_cap and account.monthly_cap is not None:
        spent = month_to_date(session, organization_id, now)
        if spent + required > account.monthly_cap:
            raise SpendingCapError(
                f"the organization's monthly cap of {account.monthly_cap} {account.currency} "
                f"is reached ({spent} spent this month, this lease needs {required})"
            )
    if user_limit is not None and user_limit.hard_cap and user_actor:
        spent = user_month_to_date(session, user_actor, organization_id, now)
        if spent + required > user_limit.monthly_cap:
            raise SpendingCapError(
                f"your monthly cap of {user_limit.monthly_cap} is reached ({spent} spent this "
                f"month, this lease needs {required})"
            )


def _event(
    session: Session, organization_id: int, kind: str, key: str, detail: str, now: datetime
) -> bool:
    """Record a billing event once per key; whether it is new."""
    exists = session.scalar(select(BillingEvent.id).where(BillingEvent.key == key))
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                BillingEvent(
                    organization_id=organization_id, kind=kind, key=key, detail=detail, at=now
                )
            )
    except IntegrityError:
        return False
    return True


@dataclass
class EnforcementReport:
    notified: list[int]
    ended: list[int]
    alerts: list[str]


def enforce(
    session: Session, now: datetime, policy: BillingPolicy | None = None
) -> EnforcementReport:
    """Low-balance notices, leases ended when the balance is spent, cap alerts; commits."""
    policy = policy or BillingPolicy()
    report = EnforcementReport([], [], [])
    begin_write(session)
    try:
        accounts = session.scalars(select(BillingAccount)).all()
        for account in accounts:
            _enforce_account(session, account, now, policy, report)
        _user_alerts(session, now, report)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def _enforce_account(
    session: Session, account: BillingAccount, now: datetime, policy: BillingPolicy,
    report: EnforcementReport,
) -> None:  # fmt: skip
    org = account.organization_id
    if account.monthly_cap:
        spent = month_to_date(session, org, now)
        for share in (80, 100):
            if spent >= account.monthly_cap * share / 100:
                key = f"cap:{org}:{month_of(now)}:{share}"
                detail = (
                    f"{spent} of the monthly cap of {account.monthly_cap} {account.currency} spent"
                )
                if _event(session, org, f"cap_{share}", key, detail, now):
                    report.alerts.append(key)
    if not account.prepaid:
        return
    burn = burn_per_hour(session, org)
    if burn <= 0:
        return
    available = ledger.balance(session, org) + account.credit_limit
    if available <= 0:
        report.ended.extend(_end_running(session, org, now))
        _event(session, org, "balance_exhausted", f"exhausted:{org}:{_funding_mark(session, org)}",
               f"balance {available} {account.currency}: running leases ended", now)  # fmt: skip
        return
    if available < burn * Decimal(policy.notice.total_seconds()) / SECONDS_PER_HOUR:
        key = f"notice:{org}:{_funding_mark(session, org)}"
        minutes = int(available / burn * 60)
        detail = (
            f"the balance ({available} {account.currency}) covers about {minutes} minute(s) "
            f"of the running leases ({burn} {account.currency}/hour); they end at zero"
        )
        if _event(session, org, "balance_notice", key, detail, now):
            report.notified.append(org)


def _funding_mark(session: Session, organization_id: int) -> int:
    """The last top-up or grant: a new one re-arms the notice."""
    return (
        session.scalar(
            select(func.max(LedgerEntry.id)).where(
                LedgerEntry.organization_id == organization_id, LedgerEntry.kind.in_(FUNDING)
            )
        )
        or 0
    )


def _end_running(session: Session, organization_id: int, now: datetime) -> list[int]:
    leases = session.scalars(
        select(Lease)
        .where(
            Lease.organization_id == organization_id,
            Lease.status == LeaseStatus.ACTIVE,
            Lease.term.in_(ARREARS),
        )
        .with_for_update()
    ).all()
    for lease in leases:
        end_lease_at(session, lease, now, detail="balance exhausted")
    return [lease.id for lease in leases]


def end_lease_at(
    session: Session, lease: Lease, moment: datetime, *, detail: str, actor: str = ACTOR
) -> None:
    """End an active lease at a moment: its GPUs are free from then and its jobs are stopped
    by the worker as at any lease's end; flushes only."""
    for allocation in lease.allocations:
        if allocation.live:
            allocation.ends_at = max(allocation.starts_at, min(allocation.ends_at, moment))
    lease.ends_at = max(lease.starts_at, min(lease.ends_at, moment))
    target = LeaseStatus.PREEMPTED if lease.preempted_at else LeaseStatus.ENDED
    change_status(session, lease, target, actor=actor, detail=detail)


def _user_alerts(session: Session, now: datetime, report: EnforcementReport) -> None:
    rows = session.execute(
        select(UserSpendingLimit, User, Organization)
        .join(User, User.id == UserSpendingLimit.user_id)
        .join(Organization, Organization.id == User.organization_id)
    ).all()
    for limit, user, organization in rows:
        actor = f"{user.name}@{organization.name}"
        spent = user_month_to_date(session, actor, organization.id, now)
        for share in (80, 100):
            if spent >= limit.monthly_cap * share / 100:
                key = f"cap:{organization.id}:user:{user.id}:{month_of(now)}:{share}"
                detail = f"{user.name}: {spent} of the monthly cap of {limit.monthly_cap} spent"
                if _event(session, organization.id, f"user_cap_{share}", key, detail, now):
                    report.alerts.append(key)


def entry_funding(
    session: Session, organization_id: int, kind: EntryKind, amount: Decimal, *, currency: str,
    actor: str, now: datetime, reference: str, description: str,
) -> int | None:  # fmt: skip
    """Append a top-up, a grant, a credit or an adjustment (keyed by the caller's
    reference, so that a retried webhook or command counts once)."""
    ids = ledger.append(
        session,
        [
            ledger.entry(
                organization_id=organization_id, kind=kind, amount=amount, currency=currency,
                key=f"{kind.value}:{organization_id}:{reference}", actor=actor, at=now,
                description=description,
            )
        ],
    )  # fmt: skip
    return ids[0] if ids else None
