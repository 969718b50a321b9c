"""Billing: rating a month of 100,000 lease-periods and issuing invoices for 1,000
organizations, against a same-run baseline doing the same work one entry at a time
through the ORM; and booking's rate with and without the rating loop beside it.

    python -m bench.billing [--sqlite] [--leases 100000] [--orgs 1000]

Targets (billing issue): >= 10,000 ledger entries per second on PostgreSQL; rating that
slows booking by no more than 10% when both run at once. The baselines run on a sample
(BASELINE_SHARE of the leases and organizations) and are compared per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session
from tests.builders import load_fleet, priced_fleet
from tests.conftest import PostgresDatabases

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.billing import accrual, invoices
from gpurent.billing.models import Invoice, InvoiceEntry, LedgerEntry
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import Meter, month_of
from gpurent.bootstrap import prepare_database
from gpurent.catalog.models import GpuModel
from gpurent.db.engine import make_engine, make_session_factory
from gpurent.fleet.models import Facility
from gpurent.leases import booking
from gpurent.leases.index import FleetCache
from gpurent.leases.models import Lease
from gpurent.leases.schemas import LeaseRequest
from gpurent.leases.states import LeaseStatus
from gpurent.offers.terms import Term

POSTGRES = os.environ.get(
    "GPURENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
RATED_AT = datetime(2026, 4, 1, 1, tzinfo=UTC)
BASELINE_SHARE = 0.03
BOOKING_SECONDS = 6.0


def _seed(
    engine: Engine, leases: int, orgs: int, *, status: LeaseStatus, now: datetime
) -> list[int]:
    """Organizations and leases inserted directly (the bench is about rating, not booking)."""
    rng = random.Random(7)
    with make_session_factory(engine)() as session:
        model_id = session.scalar(select(GpuModel.id).where(GpuModel.name == "A100-80GB"))
        facility_id = session.scalar(select(Facility.id))
        base = session.scalar(select(func.count(Organization.id))) or 0
        session.execute(
            insert(Organization),
            [{"name": f"Bench {status} {base + n}", "kind": "customer", "country": "GB",
              "created_at": now} for n in range(orgs)],
        )  # fmt: skip
        org_ids = list(
            session.scalars(
                select(Organization.id).where(Organization.name.like(f"Bench {status} %"))
            )
        )
        rows: list[dict[str, Any]] = []
        for _ in range(leases):
            if status is LeaseStatus.ENDED:
                start = MONTH_START + timedelta(seconds=rng.randrange(0, 27 * 86400))
                end = start + timedelta(seconds=rng.randrange(61, 72 * 3600))
            else:  # running now, for the rating loop beside booking
                start = now - timedelta(hours=rng.uniform(1, 48))
                end = now + timedelta(days=30)
            rows.append({
                "gpu_model_id": model_id, "organization_id": rng.choice(org_ids),
                "facility_id": facility_id, "gpus": rng.choice((1, 2, 4, 8)),
                "term": Term.ON_DEMAND, "months": None, "open_ended": False,
                "starts_at": start, "ends_at": end, "status": status, "status_changed_at": end,
                "before_end_notified": False, "currency": "USD",
                "hourly_rate": Decimal("1.25"), "granularity_seconds": 1, "minimum_seconds": 60,
                "created_at": start,
            })  # fmt: skip
        for chunk in range(0, len(rows), 10_000):
            session.execute(insert(Lease), rows[chunk : chunk + 10_000])
        session.commit()
    return org_ids


def _naive_rating(session: Session, lease_ids: list[int], now: datetime) -> int:
    """The baseline: per lease, look for its entry, compute it, add it through the ORM with
    its audit record, commit."""
    made = 0
    for lease_id in lease_ids:
        lease = session.get(Lease, lease_id)
        assert lease is not None
        assert lease.organization_id is not None
        key = f"naive:{lease_id}:{month_of(lease.starts_at)}:1"
        if session.scalar(select(LedgerEntry.id).where(LedgerEntry.key == key)) is not None:
            continue
        meter = Meter(lease.starts_at, lease.gpus, lease.hourly_rate, lease.currency, 60, 1)
        amount = meter.cost(min(lease.ends_at, now))
        entry = LedgerEntry(
            organization_id=lease.organization_id, kind="charge", amount=-amount,
            currency=lease.currency, month=month_of(lease.starts_at), key=key, lease_id=lease.id,
            period_start=lease.starts_at, period_end=lease.ends_at,
            gpu_hours=meter.gpu_hours(lease.starts_at, lease.ends_at), rate=lease.hourly_rate,
            description="", actor="bench", at=now,
        )  # fmt: skip
        session.add(entry)
        session.flush()
        audit.record(
            session, "bench", "ledger.append", f"ledger:{entry.id}", {"amount": str(amount)}
        )
        session.commit()
        made += 1
    return made


def _naive_invoices(session: Session, org_ids: list[int], month: str, now: datetime) -> int:
    """The baseline: per organization, its entries, each with its lease loaded on its own,
    the lines summed in Python, the invoice and each carried entry added through the ORM."""
    for n, org_id in enumerate(org_ids):
        entries = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.organization_id == org_id, LedgerEntry.month == month
            )
        ).all()
        lines = []
        for entry in entries:
            lease = session.get(Lease, entry.lease_id)
            assert lease is not None
            lines.append({"lease": lease.id, "gpus": lease.gpus, "amount": str(-entry.amount)})
        total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        invoice = Invoice(
            organization_id=org_id, ref=f"naive:{org_id}:{month}", kind="invoice", month=month,
            number=f"NAIVE-{n:06d}", status="issued", currency="USD", subtotal=total,
            tax=Decimal(0), total=total, snapshot={"lines": lines}, issued_at=now,
            status_changed_at=now, actor="bench",
        )  # fmt: skip
        session.add(invoice)
        session.flush()
        for entry in entries:
            session.add(InvoiceEntry(entry_id=entry.id, invoice_id=invoice.id))
            session.flush()
        session.commit()
    return len(org_ids)


def _bookings(engine: Engine, seconds: float, stop_rating: Any) -> float:
    """Bookings per second from one client in-process (1 GPU, random future windows)."""
    factory = make_session_factory(engine)
    rng = random.Random(11)
    fleet = FleetCache()
    done = 0
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    with factory() as session:
        while time.perf_counter() < deadline:
            start = datetime.now(UTC) + timedelta(hours=rng.uniform(1, 24 * 300))
            request = LeaseRequest(gpu_model="A100-80GB", gpus=1, start=start, hours=1)
            try:
                booking.request_lease(session, request, actor="bench", fleet=fleet)
                done += 1
            except Exception as exc:  # a full window: try another one
                session.rollback()
                errors[type(exc).__name__ + ": " + str(exc)[:120]] = 1
    elapsed = time.perf_counter() - started
    if done == 0:
        raise RuntimeError(f"no booking went through: {sorted(errors)[:3]}")
    if stop_rating is not None:
        stop_rating.set()
    return done / elapsed


def _rating_loop(url: str, stop: Any, rounds: Any, entries: Any) -> None:
    """In its own process, as `gpurent worker` runs beside the servers: rate the running
    leases back to back (every round finds work: the interval is one second)."""
    engine = make_engine(url)
    policy = BillingPolicy(rating_interval=timedelta(seconds=1))
    with make_session_factory(engine)() as session:
        while not stop.is_set():
            made = accrual.rate_due(session, datetime.now(UTC), policy).entries
            with rounds.get_lock():
                rounds.value += 1
            with entries.get_lock():
                entries.value += made
    engine.dispose()


def run_on(url: str, leases: int, orgs: int) -> dict[str, float]:
    engine = make_engine(url)
    prepare_database(engine)
    with make_session_factory(engine)() as session:
        load_fleet(session, priced_fleet(nodes=40))
    org_ids = _seed(engine, leases, orgs, status=LeaseStatus.ENDED, now=RATED_AT)
    factory = make_session_factory(engine)
    results: dict[str, float] = {"leases": leases, "orgs": len(org_ids)}
    with factory() as session:
        ids = accrual.candidates(session)
        session.rollback()
        sample = ids[: max(1, int(len(ids) * BASELINE_SHARE))]
        began = time.perf_counter()
        made = _naive_rating(session, sample, RATED_AT)
        results["naive_entries_per_s"] = made / (time.perf_counter() - began)
        began = time.perf_counter()
        report = accrual.rate_due(session, RATED_AT, BillingPolicy())
        elapsed = time.perf_counter() - began
        results["entries"] = report.entries
        results["rating_s"] = elapsed
        results["entries_per_s"] = report.entries / elapsed
        results["ratio"] = results["entries_per_s"] / results["naive_entries_per_s"]

        month = month_of(MONTH_START)
        some = org_ids[: max(1, int(len(org_ids) * BASELINE_SHARE))]
        began = time.perf_counter()
        _naive_invoices(session, some, month, RATED_AT)
        results["naive_invoices_per_s"] = len(some) / (time.perf_counter() - began)
        rest = [o for o in invoices.customers_to_invoice(session, month) if o not in set(some)]
        session.rollback()
        began = time.perf_counter()
        for org_id in rest:
            invoices.issue(session, org_id, month, now=RATED_AT, actor="bench")
        elapsed = time.perf_counter() - began
        results["invoices"] = len(rest)
        results["invoices_per_s"] = len(rest) / elapsed
        results["invoice_ratio"] = results["invoices_per_s"] / results["naive_invoices_per_s"]

    # Booking alone, then with the rating loop over 20,000 running leases beside it.
    _seed(engine, 20_000, 200, status=LeaseStatus.ACTIVE, now=datetime.now(UTC))
    _bookings(engine, 1.0, None)  # warm-up: caches, prepared statements
    results["booking_alone_per_s"] = _bookings(engine, BOOKING_SECONDS, None)
    context = multiprocessing.get_context("spawn")
    stop, done, made = context.Event(), context.Value("i", 0), context.Value("l", 0)
    loop = context.Process(target=_rating_loop, args=(url, stop, done, made))
    loop.start()
    while done.value == 0 and loop.is_alive():  # the first round is under way
        time.sleep(0.2)
    done.value, made.value = 0, 0
    results["booking_with_rating_per_s"] = _bookings(engine, BOOKING_SECONDS, None)
    stop.set()
    loop.join()
    results["rating_rounds"] = done.value
    results["rating_entries_during_booking"] = made.value
    results["booking_slowdown"] = (
        1 - results["booking_with_rating_per_s"] / results["booking_alone_per_s"]
    )
    engine.dispose()
    return results


def report(database: str, r: dict[str, float]) -> None:
    print(f"{database}: {r['leases']:.0f} lease-periods, {r['orgs']:.0f} organizations")
    print(
        f"  rating: {r['entries']:.0f} entries in {r['rating_s']:.1f} s = "
        f"{r['entries_per_s']:.0f} entries/s (target >= 10,000 on PostgreSQL); one at a "
        f"time through the ORM {r['naive_entries_per_s']:.0f}/s: ratio {r['ratio']:.1f}x"
    )
    print(
        f"  invoices: {r['invoices']:.0f} issued at {r['invoices_per_s']:.1f}/s; one entry "
        f"at a time {r['naive_invoices_per_s']:.1f}/s: ratio {r['invoice_ratio']:.1f}x"
    )
    print(
        f"  booking: alone {r['booking_alone_per_s']:.0f}/s, with the rating loop "
        f"{r['booking_with_rating_per_s']:.0f}/s ({r['rating_rounds']:.0f} rounds, "
        f"{r['rating_entries_during_booking']:.0f} entries): slowdown "
        f"{r['booking_slowdown']:.1%} (target <= 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leases", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=1_000)
    parser.add_argument("--sqlite", action="store_true", help="also on SQLite")
    args = parser.parse_args()
    databases = PostgresDatabases(POSTGRES)
    name = databases.create()
    try:
        report("postgresql", run_on(databases.url_for(name), args.leases, args.orgs))
    finally:
        databases.drop(name)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            report("sqlite", run_on(url, args.leases, args.orgs))


if __name__ == "__main__":
    main()
