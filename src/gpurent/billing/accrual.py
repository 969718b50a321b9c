"""The worker's rating step: every lease that holds or held GPUs is rated into the ledger.

On-demand and interruptible leases are charged in arrears for the time they held (to
their end: an early release or a preemption moves it), an entry at most every rating
interval while they run; reserved terms are charged per term month in advance (the first
at booking). A lease held for review is charged from the time it left the hold. Each
amount is reconciled per (lease, month, stream): what is owed through now minus what the
ledger holds; a shortfall is one new charge, an excess a reversal and a replacement. The
keys of the entries are (lease, month, stream, sequence number): rating twice adds nothing
and two workers at once insert one entry (the second one's is a duplicate key, skipped).
GPUs that failed during a lease give a credit stream of their own (rate x lost GPU-hours).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, any_, bindparam, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.billing import ledger
from gpurent.billing.models import EntryKind, LeaseSettlement, LedgerEntry
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import Meter, by_month, month_of, round_money
from gpurent.db.engine import begin_write
from gpurent.fleet.models import GpuEvent
from gpurent.fleet.states import GpuState
from gpurent.leases.models import Allocation, Lease, LeaseEvent
from gpurent.leases.states import LeaseStatus
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months

ACTOR = "billing"
BATCH = 2000
FINAL = (LeaseStatus.ENDED, LeaseStatus.PREEMPTED, LeaseStatus.CANCELLED)
RATED_COLUMNS = (
    "id", "organization_id", "gpus", "term", "months", "starts_at", "ends_at", "status",
    "currency", "hourly_rate", "granularity_seconds", "minimum_seconds",
)  # fmt: skip


class RatedLease(Protocol):
    """What rating reads of a lease (a row of RATED_COLUMNS, or a Lease)."""

    id: int
    organization_id: int | None
    gpus: int
    term: Term
    months: int | None
    starts_at: datetime
    ends_at: datetime
    status: LeaseStatus
    currency: str
    hourly_rate: Decimal
    granularity_seconds: int
    minimum_seconds: int


@dataclass
class RatingReport:
    leases: int = 0
    entries: int = 0
    settled: int = 0
    lease_ids: list[int] = field(default_factory=list)


@dataclass
class Stream:
    """What the ledger holds for one (lease, month, stream)."""

    owed: Decimal = Decimal(0)  # charges positive, credits negative
    gpu_hours: Decimal = Decimal(0)
    count: int = 0
    through: datetime | None = None
    last_id: int | None = None


@dataclass(frozen=True)
class Target:
    """What one (lease, month, stream) should hold through now."""

    month: str
    owed: Decimal  # charges positive, credits negative
    start: datetime
    end: datetime
    gpu_hours: Decimal
    gpu_event_id: int | None = None
    gpu_id: int | None = None


class Among:
    """``column IN ids``: one array parameter on PostgreSQL (``= ANY``), whose statement
    the driver parses at once, rather than a thousand parameters; a plain IN on SQLite."""

    def __init__(self, session: Session) -> None:
        self.postgresql = session.get_bind().dialect.name == "postgresql"

    def __call__(self, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
        if self.postgresql:
            array = bindparam(None, list(ids), type_=postgresql.ARRAY(Integer))
            matches: ColumnElement[bool] = column == any_(array)
            return matches
        among: ColumnElement[bool] = column.in_(ids)
        return among


def candidates(session: Session, *, running: bool = True) -> list[int]:
    """Leases still to rate: running, reserved and booked, or final and not settled
    (``running=False``: all but the running ones)."""
    statement = (
        select(Lease.id)
        .join(Organization, Organization.id == Lease.organization_id)
        .outerjoin(LeaseSettlement, LeaseSettlement.lease_id == Lease.id)
        .where(
            Organization.kind == "customer",
            LeaseSettlement.lease_id.is_(None),
            ((Lease.status == LeaseStatus.ACTIVE) & literal(running))
            | ((Lease.status == LeaseStatus.SCHEDULED) & (Lease.term == Term.RESERVED))
            | Lease.status.in_(FINAL),
        )
        .order_by(Lease.id)
    )
    return list(session.scalars(statement))


def rate_due(
    session: Session, now: datetime, policy: BillingPolicy | None = None, *, running: bool = True
) -> RatingReport:
    """One rating round, a write transaction per batch of leases; commits. ``running``:
    the running leases too (the worker reads them once per rating interval)."""
    policy = policy or BillingPolicy()
    report = RatingReport()
    ids = candidates(session, running=running)
    session.rollback()
    for start in range(0, len(ids), BATCH):
        begin_write(session)
        try:
            _rate_batch(session, ids[start : start + BATCH], now, policy, report)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return report


def _rate_batch(
    session: Session, ids: Sequence[int], now: datetime, policy: BillingPolicy, report: RatingReport
) -> None:
    # Claimed: a lease another worker is rating is skipped (it is rated there).
    among = Among(session)
    settled_already = select(LeaseSettlement.lease_id).where(among(LeaseSettlement.lease_id, ids))
    # Plain rows of the columns rating reads: no unit of work for thousands of leases.
    leases: Sequence[Any] = session.execute(
        select(*(getattr(Lease, name) for name in RATED_COLUMNS))
        .where(among(Lease.id, ids), Lease.id.not_in(settled_already))
        .with_for_update(skip_locked=True)
    ).all()
    if not leases:
        return
    claimed = [lease.id for lease in leases]
    streams = _streams(session, claimed, among)
    held_until = _hold_ends(session, claimed, among)
    failures = _failures(session, claimed, among)
    new: list[dict[str, Any]] = []
    settled: list[int] = []
    for lease in leases:
        if lease.organization_id is None:
            continue
        start = max(lease.starts_at, held_until.get(lease.id, lease.starts_at))
        targets = list(_targets(lease, start, now, policy, failures.get(lease.id, [])))
        complete = True
        for target in targets:
            stream = streams.get(_stream_key(lease.id, target), Stream())
            entries, waiting = _reconcile(lease, target, stream, now, policy)
            new.extend(entries)
            complete = complete and not waiting
        if lease.status in FINAL and complete:
            settled.append(lease.id)
    inserted = ledger.append(session, new)
    if settled:  # another worker may have settled one meanwhile: once is enough
        _settle(session, settled, now, among)
    report.leases += len(leases)
    report.entries += len(inserted)
    report.settled += len(settled)
    report.lease_ids.extend(claimed)


def _settle(session: Session, lease_ids: list[int], now: datetime, among: Among) -> None:
    connection = session.connection()
    if among.postgresql:
        connection.execute(
            text(
                "INSERT INTO lease_settlements (lease_id, at) "
                "SELECT unnest(CAST(:ids AS integer[])), :at ON CONFLICT DO NOTHING"
            ),
            {"ids": lease_ids, "at": now},
        )
        return
    connection.execute(
        sqlite.insert(LeaseSettlement).on_conflict_do_nothing(),
        [{"lease_id": i, "at": now} for i in lease_ids],
    )


def _stream_key(lease_id: int, target: Target) -> tuple[int, str, int | None]:
    return lease_id, target.month, target.gpu_event_id


def _streams(
    session: Session, ids: Sequence[int], among: Among
) -> dict[tuple[int, str, int | None], Stream]:
    rows = session.execute(
        select(
            LedgerEntry.lease_id,
            LedgerEntry.month,
            LedgerEntry.gpu_event_id,
            func.sum(LedgerEntry.amount),
            func.sum(LedgerEntry.gpu_hours),
            func.count(LedgerEntry.id),
            func.max(LedgerEntry.period_end),
            func.max(LedgerEntry.id),
        )
        .where(among(LedgerEntry.lease_id, ids))
        .group_by(LedgerEntry.lease_id, LedgerEntry.month, LedgerEntry.gpu_event_id)
    )
    found: dict[tuple[int, str, int | None], Stream] = {}
    for lease_id, month, event_id, total, hours, count, through, last_id in rows:
        if lease_id is None:
            continue
        found[(lease_id, month, event_id)] = Stream(
            -Decimal(total or 0), Decimal(hours or 0), count, through, last_id
        )
    return found


def _hold_ends(session: Session, ids: Sequence[int], among: Among) -> dict[int, datetime]:
    """When each lease held for review left the hold (approved)."""
    rows = session.execute(
        select(LeaseEvent.lease_id, func.max(LeaseEvent.at))
        .where(
            among(LeaseEvent.lease_id, ids),
            LeaseEvent.from_status == LeaseStatus.PENDING_REVIEW.value,
            LeaseEvent.to_status.in_((LeaseStatus.SCHEDULED.value, LeaseStatus.ACTIVE.value)),
        )
        .group_by(LeaseEvent.lease_id)
    )
    return {lease_id: at for lease_id, at in rows if at is not None}


@dataclass(frozen=True)
class Failure:
    event_id: int
    gpu_id: int
    at: datetime
    held_until: datetime  # the allocation's end: a move to a healthy GPU ends it


def _failures(session: Session, ids: Sequence[int], among: Among) -> dict[int, list[Failure]]:
    """The first failure of each GPU while a lease held it."""
    rows = session.execute(
        select(Allocation.lease_id, GpuEvent.id, GpuEvent.gpu_id, GpuEvent.at, Allocation.ends_at)
        .join(GpuEvent, GpuEvent.gpu_id == Allocation.gpu_id)
        .where(
            among(Allocation.lease_id, ids),
            GpuEvent.to_state == GpuState.FAILED.value,
            GpuEvent.at >= Allocation.starts_at,
            GpuEvent.at < Allocation.ends_at,
        )
        .order_by(GpuEvent.at, GpuEvent.id)
    )
    found: dict[int, dict[int, Failure]] = defaultdict(dict)
    for lease_id, event_id, gpu_id, at, ends_at in rows:
        per_gpu = found[lease_id]
        if gpu_id not in per_gpu:
            per_gpu[gpu_id] = Failure(event_id, gpu_id, at, ends_at)
    return {lease_id: list(per_gpu.values()) for lease_id, per_gpu in found.items()}


def _targets(
    lease: RatedLease,
    start: datetime,
    now: datetime,
    policy: BillingPolicy,
    failures: list[Failure],
) -> Iterator[Target]:
    if lease.term is Term.RESERVED:
        yield from _reserved_targets(lease, start, now, policy)
        end = min(lease.ends_at, now)
    else:
        if lease.status not in (LeaseStatus.ACTIVE, LeaseStatus.ENDED, LeaseStatus.PREEMPTED):
            return  # never ran (cancelled, rejected): free
        end = min(lease.ends_at, now)
        meter = _meter(lease, start)
        for month, a, b in by_month(start, end):
            yield Target(month, meter.between(a, b), a, b, meter.gpu_hours(a, b))
    if lease.status == LeaseStatus.CANCELLED:
        return
    for failure in failures:
        lost_start = max(failure.at, start)
        lost_end = min(failure.held_until, end)
        credit = Meter(lost_start, 1, lease.hourly_rate, lease.currency)
        for month, a, b in by_month(lost_start, lost_end):
            yield Target(
                month, -credit.between(a, b), a, b, credit.gpu_hours(a, b),
                failure.event_id, failure.gpu_id,
            )  # fmt: skip


def _meter(lease: RatedLease, start: datetime) -> Meter:
    return Meter(
        start=start,
        gpus=lease.gpus,
        rate=lease.hourly_rate,
        currency=lease.currency,
        minimum_seconds=lease.minimum_seconds,
        granularity_seconds=lease.granularity_seconds,
    )


def _reserved_targets(
    lease: RatedLease, start: datetime, now: datetime, policy: BillingPolicy
) -> Iterator[Target]:
    """Each term month is due at its start (the first at booking), for its whole length."""
    if lease.status in (LeaseStatus.PENDING_REVIEW, LeaseStatus.REJECTED):
        return
    months = lease.months or 1
    bounds = [add_months(lease.starts_at, k) for k in range(months + 1)]
    meter = Meter(lease.starts_at, lease.gpus, lease.hourly_rate, lease.currency)
    cancelled = lease.status == LeaseStatus.CANCELLED
    for k in range(months):
        a, b = bounds[k], bounds[k + 1]
        if k > 0 and (now < a or cancelled or lease.ends_at <= a):
            break
        owed = meter.between(a, b)
        if cancelled:  # before its start: the stated share of the first period
            owed = round_money(owed * policy.reserved_cancel_percent / 100, lease.currency)
        yield Target(month_of(a), owed, a, b, meter.gpu_hours(a, b))


def _reconcile(
    lease: RatedLease, target: Target, stream: Stream, now: datetime, policy: BillingPolicy
) -> tuple[list[dict[str, Any]], bool]:
    """The entries that bring a stream to its target; and whether it still waits for the
    rating interval (a running lease is charged at most once per interval)."""
    difference = target.owed - stream.owed
    if difference == 0:
        return [], False
    grows = stream.count == 0 or (
        abs(target.owed) > abs(stream.owed) and (target.owed > 0) == (stream.owed > 0)
    )
    running = lease.status == LeaseStatus.ACTIVE and lease.term is not Term.RESERVED
    if (
        running
        and grows
        and stream.through is not None
        and target.end >= now
        and now - stream.through < policy.rating_interval
    ):
        return [], True
    credit = target.gpu_event_id is not None
    base: dict[str, Any] = {
        "organization_id": lease.organization_id,
        "currency": lease.currency,
        "actor": ACTOR,
        "at": now,
        "month": target.month,
        "lease_id": lease.id,
        "gpu_event_id": target.gpu_event_id,
        "rate": lease.hourly_rate,
    }
    prefix = f"lease:{lease.id}:{target.month}:"
    if credit:
        prefix += f"gpu-event:{target.gpu_event_id}:"
    sequence = stream.count
    entries = []
    hours = target.gpu_hours - stream.gpu_hours
    if not grows:  # a correction: reverse what the stream holds, then replace it
        sequence += 1
        entries.append(
            ledger.entry(
                **base,
                kind=EntryKind.ADJUSTMENT,
                amount=stream.owed,
                key=f"{prefix}{sequence}",
                reverses_id=stream.last_id,
                period_start=target.start,
                period_end=target.end,
                gpu_hours=-stream.gpu_hours,
                description="reversal",
            )
        )
        difference, hours = target.owed, target.gpu_hours
    if difference != 0:
        sequence += 1
        entries.append(
            ledger.entry(
                **base,
                kind=EntryKind.CREDIT if credit else EntryKind.CHARGE,
                amount=-difference,
                key=f"{prefix}{sequence}",
                period_start=stream.through if grows and stream.through else target.start,
                period_end=target.end,
                gpu_hours=hours,
                description=f"failed GPU {target.gpu_id}" if credit else "",
            )
        )
    return entries, False
