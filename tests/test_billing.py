"""Rating into the ledger: the amounts the offers say, to the cent, on both databases.

Time is injected everywhere (bookings, rating, ends); nothing sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gpurent.billing import accrual, ledger
from gpurent.billing.models import BillingEvent, EntryKind, LedgerEntry
from gpurent.db.engine import make_session_factory
from gpurent.fleet import service as fleet_service
from gpurent.fleet.states import GpuState
from gpurent.leases.models import LeaseEvent
from gpurent.leases.service import get_lease, lease_price
from gpurent.leases.states import LeaseStatus
from gpurent.leases.status import change_status
from tests.billing_builders import (
    POLICY,
    T0,
    book,
    charged,
    customer,
    end_due_at,
    entries,
    priced,
    rate,
    release_at,
)


class TestArrears:
    def test_on_demand_released_after_3h20(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        lease = book(session, org, T0)  # open-ended, 8 x A100 at 10.00 an hour
        assert lease.status == LeaseStatus.ACTIVE
        rate(session, T0 + timedelta(hours=1))
        assert charged(session, lease.id) == Decimal("10.00")
        rate(session, T0 + timedelta(hours=1, seconds=30))  # within the rating interval
        assert len(entries(session, lease.id)) == 1
        release_at(session, lease.id, T0 + timedelta(hours=3, minutes=20))
        rate(session, T0 + timedelta(hours=5))
        assert charged(session, lease.id) == Decimal("33.33")
        assert ledger.balance(session, org.id) == Decimal("-33.33")
        assert accrual.candidates(session) == []  # settled: no longer rated

    def test_61_seconds_with_a_60_second_minimum(self, session: Session) -> None:
        priced(session)
        lease = book(session, customer(session), T0, gpus=1, end=T0 + timedelta(seconds=61))
        rate(session, T0 + timedelta(seconds=30))  # running: the minimum is owed already
        assert charged(session, lease.id) == Decimal("0.02")
        end_due_at(session, T0 + timedelta(seconds=61))
        rate(session, T0 + timedelta(minutes=5))
        assert charged(session, lease.id) == Decimal("0.02")  # 61 s x 1.25 / 3600

    def test_interruptible_charged_until_its_preemption(self, session: Session) -> None:
        priced(session, nodes=1)
        org = customer(session)
        spot = book(session, org, T0, term="interruptible", hours=10)
        later = T0 + timedelta(hours=2)
        book(session, customer(session, "Other"), later, hours=1)  # takes the GPUs back
        end_due_at(session, later)
        assert get_lease(session, spot.id).status == LeaseStatus.PREEMPTED
        rate(session, T0 + timedelta(hours=6))
        assert charged(session, spot.id) == Decimal("8.00")  # 2 h x 8 GPUs x 0.50

    def test_held_for_review_is_charged_from_its_approval(self, session: Session) -> None:
        priced(session)
        lease = book(session, customer(session), T0, hours=4, held=True)
        assert lease.status == LeaseStatus.PENDING_REVIEW
        rate(session, T0 + timedelta(hours=1))
        assert charged(session, lease.id) == 0
        held = get_lease(session, lease.id)
        event = change_status(session, held, LeaseStatus.ACTIVE, actor="officer")
        event.at = T0 + timedelta(hours=2)  # approved two hours into its window
        session.commit()
        end_due_at(session, T0 + timedelta(hours=4))
        rate(session, T0 + timedelta(hours=5))
        assert charged(session, lease.id) == Decimal("20.00")


class TestReserved:
    def test_three_month_term_charged_in_advance_with_its_discount(self, session: Session) -> None:
        priced(session)
        lease = book(session, customer(session), T0, term="reserved", months=3)
        rate(session, T0)
        # 20% off 1.25 = 1.00 per GPU-hour; 10 March to 10 April is 744 hours.
        assert charged(session, lease.id) == Decimal("5952.00")
        rate(session, T0 + timedelta(days=20))
        assert charged(session, lease.id) == Decimal("5952.00")
        rate(session, datetime(2026, 4, 10, 12, 0, 1, tzinfo=UTC))  # the second period: 720 h
        assert charged(session, lease.id) == Decimal("11712.00")
        (first, second) = entries(session, lease.id)
        assert (first.month, second.month) == ("2026-03", "2026-04")
        assert first.rate == Decimal("1.0000")

    def test_future_term_charged_at_booking_and_cancelled_for_a_share(
        self, session: Session
    ) -> None:
        priced(session)
        lease = book(
            session, customer(session), T0, start=T0 + timedelta(days=5), term="reserved", months=1
        )
        assert lease.status == LeaseStatus.SCHEDULED
        rate(session, T0)
        # 10% off: 1.125 x 8 GPUs x 744 h (15 March to 15 April)
        assert charged(session, lease.id) == Decimal("6696.00")
        from gpurent.leases.service import cancel_lease

        cancel_lease(session, lease.id, actor="renter")
        rate(session, T0 + timedelta(hours=1))
        assert charged(session, lease.id) == Decimal("1674.00")  # 25% of the first period
        kinds = [e.kind for e in entries(session, lease.id)]
        assert kinds == ["charge", "adjustment", "charge"]  # reversal, then replacement

    def test_cancelled_on_demand_is_free(self, session: Session) -> None:
        priced(session)
        lease = book(session, customer(session), T0, start=T0 + timedelta(days=1), hours=2)
        from gpurent.leases.service import cancel_lease

        cancel_lease(session, lease.id, actor="renter")
        rate(session, T0 + timedelta(days=2))
        assert entries(session, lease.id) == []


class TestFailedHardware:
    def test_gpu_failing_an_hour_into_a_four_hour_lease(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        lease = book(session, org, T0, hours=4)
        gpu = get_lease(session, lease.id).allocations[0].gpu
        event = fleet_service.change_gpu_state(
            session, gpu, GpuState.FAILED, reason="xid 79", actor="operator"
        )
        event.at = T0 + timedelta(hours=1)
        session.commit()
        rate(session, T0 + timedelta(hours=2))
        end_due_at(session, T0 + timedelta(hours=4))
        rate(session, T0 + timedelta(hours=4, minutes=1))
        credits = [e for e in entries(session, lease.id) if e.kind == EntryKind.CREDIT]
        assert sum(e.amount for e in credits) == Decimal("3.75")  # 3 GPU-hours x 1.25
        assert sum(e.gpu_hours or 0 for e in credits) == Decimal(3)
        assert {e.gpu_event_id for e in credits} == {event.id}
        assert charged(session, lease.id) == Decimal("40.00")
        assert ledger.balance(session, org.id) == Decimal("-36.25")
        # Back in service: the credit stays.
        fleet_service.set_gpu_state(
            session, str(gpu.id), GpuState.AVAILABLE, reason="fixed", actor="operator"
        )
        rate(session, T0 + timedelta(hours=6))
        assert ledger.balance(session, org.id) == Decimal("-36.25")


class TestIdempotence:
    def _leases(self, session: Session) -> list[int]:
        priced(session, nodes=3)
        org = customer(session)
        ids = [book(session, org, T0, gpus=g, hours=h).id for g, h in ((8, 3), (4, 1), (2, 2))]
        ids.append(book(session, org, T0, gpus=2, term="reserved", months=1).id)
        return ids

    def test_rating_twice_changes_nothing(self, session: Session) -> None:
        self._leases(session)
        now = T0 + timedelta(hours=5)
        end_due_at(session, now)
        first = rate(session, now)
        before = [(e.key, e.amount) for e in entries(session)]
        second = rate(session, now)
        assert first.entries == len(before) > 0
        assert second.entries == 0
        assert [(e.key, e.amount) for e in entries(session)] == before

    def test_two_workers_at_once_give_one_ledger(self, session: Session, engine: Engine) -> None:
        ids = self._leases(session)
        now = T0 + timedelta(hours=5)
        end_due_at(session, now)
        factory = make_session_factory(engine)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def worker() -> None:
            with factory() as own:
                try:
                    barrier.wait()
                    accrual.rate_due(own, now, POLICY)
                except BaseException as exc:  # reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        rate(session, now)  # whatever a skipped lease missed, then nothing twice
        totals = [charged(session, i) for i in ids]
        assert totals == [Decimal("30.00"), Decimal("5.00"), Decimal("5.00"), Decimal("1674.00")]
        keys = [e.key for e in entries(session)]
        assert len(keys) == len(set(keys)) == 4


class TestMonthBoundary:
    def test_lines_of_a_lease_across_months_add_up_to_its_price(self, session: Session) -> None:
        priced(session)
        start = datetime(2026, 3, 31, 22, 39, 59, tzinfo=UTC)
        lease = book(session, customer(session), start, gpus=3, hours=3)
        end_due_at(session, start + timedelta(hours=3))
        rate(session, start + timedelta(hours=4))
        march, april = entries(session, lease.id)
        # March: 4801 s x 3 x 1.25 / 3600 = 5.0010 -> 5.00; the whole lease: 11.25.
        assert (march.month, -march.amount) == ("2026-03", Decimal("5.00"))
        assert (april.month, -april.amount) == ("2026-04", Decimal("6.25"))
        assert -(march.amount + april.amount) == lease_price(get_lease(session, lease.id)).total


class TestBalance:
    def test_ended_when_the_balance_runs_out_after_its_notice(self, session: Session) -> None:
        from gpurent.billing.service import worker_round
        from tests.billing_builders import top_up

        priced(session)
        org = customer(session)
        top_up(session, org, "15.00")
        lease = book(session, org, T0)  # 10.00 an hour; notice at 60 minutes left
        worker_round(session, T0, POLICY)
        assert session.scalars(select(BillingEvent)).all() == []
        worker_round(session, T0 + timedelta(minutes=40))
        (notice,) = session.scalars(select(BillingEvent)).all()
        assert notice.kind == "balance_notice"
        assert get_lease(session, lease.id).status == LeaseStatus.ACTIVE
        worker_round(session, T0 + timedelta(minutes=60), POLICY)  # notice is sent once
        assert len(session.scalars(select(BillingEvent)).all()) == 1
        out = T0 + timedelta(minutes=90)
        worker_round(session, out, POLICY)
        ended = get_lease(session, lease.id)
        assert ended.status == LeaseStatus.ENDED
        assert ended.ends_at == out
        assert all(a.ends_at == out for a in ended.allocations)
        assert ledger.balance(session, org.id) == Decimal("0.00")
        kinds = [e.kind for e in session.scalars(select(BillingEvent).order_by(BillingEvent.id))]
        assert kinds == ["balance_notice", "balance_exhausted"]
        detail = session.scalars(
            select(LeaseEvent.detail).where(
                LeaseEvent.lease_id == lease.id, LeaseEvent.kind == "ended"
            )
        ).one()
        assert detail == "balance exhausted"


class TestAppendOnly:
    def test_update_and_delete_refused_by_the_database(self, session: Session) -> None:
        priced(session)
        lease = book(session, customer(session), T0, hours=1)
        rate(session, T0 + timedelta(minutes=30))
        (entry,) = entries(session, lease.id)
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(
                text("UPDATE ledger_entries SET amount = 0 WHERE id = :i"), {"i": entry.id}
            )
        session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM ledger_entries WHERE id = :i"), {"i": entry.id})
        session.rollback()
        assert session.get(LedgerEntry, entry.id).amount == Decimal("-5.00")  # type: ignore[union-attr]

    def test_money_entries_are_in_the_audit_chain(self, session: Session) -> None:
        from gpurent.audit import service as audit
        from gpurent.audit.models import AuditRecord

        priced(session)
        org = customer(session)
        for hours in (1, 2, 3):
            book(session, org, T0, gpus=1, hours=hours)
        end_due_at(session, T0 + timedelta(hours=3))
        rate(session, T0 + timedelta(hours=3))
        session.rollback()
        audit.seal(session)
        checked, problems = audit.verify(session)
        assert problems == []
        assert checked > 0
        details = session.scalars(
            select(AuditRecord.detail).where(AuditRecord.action == "ledger.append")
        ).all()
        assert sorted(d["amount"] for d in details) == ["-1.25", "-2.50", "-3.75"]


class TestTopUps:
    def test_the_same_top_up_twice_at_once_counts_once(
        self, session: Session, engine: Engine
    ) -> None:
        from gpurent.accounts.models import Organization
        from gpurent.billing.schemas import MoneyIn
        from gpurent.billing.service import record_money

        org_id = customer(session).id
        session.commit()
        factory = make_session_factory(engine)
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def post(amount: str) -> None:
            with factory() as own:
                org = own.get(Organization, org_id)
                assert org is not None
                money = MoneyIn(kind="top_up", amount=Decimal(amount), reference="pay-42")
                own.rollback()
                barrier.wait()
                try:
                    record_money(own, org, money, actor="webhook", now=T0)
                except BaseException as exc:  # reported below
                    errors.append(exc)

        threads = [threading.Thread(target=post, args=("25.00",)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert ledger.balance(session, org_id) == Decimal("25.00")
        assert len(entries(session)) == 1
