"""Invoices: issued once with a gapless number, a snapshot that nothing later alters, lines
that add up (JSON, CSV), an HTML page that renders in headless Chromium."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gpurent.billing import invoices, ledger
from gpurent.billing.models import EntryKind, Invoice
from gpurent.db.engine import begin_write, make_session_factory
from gpurent.fleet import service as fleet_service
from gpurent.fleet.states import GpuState
from gpurent.leases.service import get_lease, lease_price
from tests.billing_builders import T0, book, customer, end_due_at, priced, rate
from tests.builders import load_fleet, priced_fleet
from tests.test_compliance import bundled, dossier

APRIL = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
ARTIFACTS = Path(
    os.environ.get("GPURENT_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)


def issue(session: Session, org_id: int, month: str, now: datetime) -> Invoice:
    session.rollback()
    return invoices.issue(session, org_id, month, now=now, actor="operator@Operator")


def _sum(lines: list[dict[str, object]]) -> Decimal:
    return sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))


class TestIssue:
    def test_a_lease_across_a_month_boundary_on_two_invoices(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        start = datetime(2026, 3, 31, 22, 39, 59, tzinfo=UTC)
        lease = book(session, org, start, gpus=3, hours=3)
        rate(session, start + timedelta(hours=2))  # March complete, April under way
        march = issue(session, org.id, "2026-03", start + timedelta(hours=2))
        end_due_at(session, start + timedelta(hours=3))
        rate(session, start + timedelta(hours=4))
        april = issue(session, org.id, "2026-04", MAY)
        assert (march.number, april.number) == ("INV-2026-000001", "INV-2026-000002")
        (m_line,) = march.snapshot["lines"]
        (a_line,) = april.snapshot["lines"]
        assert (m_line["amount"], a_line["amount"]) == ("5.00", "6.25")
        assert m_line["gpu_model"] == "A100-80GB"
        assert m_line["gpus"] == 3
        assert m_line["end"] == "2026-04-01T00:00:00+00:00"
        total = Decimal(m_line["amount"]) + Decimal(a_line["amount"])
        assert total == lease_price(get_lease(session, lease.id)).total == Decimal("11.25")

    def test_a_month_still_open_is_a_draft(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        book(session, org, T0, hours=1)
        rate(session, T0 + timedelta(hours=2))
        from gpurent.errors import ConflictError

        with pytest.raises(ConflictError, match="still open"):
            issue(session, org.id, "2026-03", T0 + timedelta(hours=2))
        draft = invoices.draft(session, org.id, "2026-03")
        assert draft["status"] == "draft"
        assert draft["total"] == "10.00"

    def test_issuing_again_returns_the_same_invoice(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        book(session, org, T0, hours=1)
        rate(session, T0 + timedelta(hours=2))
        first = issue(session, org.id, "2026-03", APRIL)
        again = issue(session, org.id, "2026-03", APRIL + timedelta(days=1))
        assert again.id == first.id
        assert again.number == first.number

    def test_failed_gpu_credit_and_tax_on_the_invoice(self, session: Session) -> None:
        priced(session)
        org = customer(session, "Brit Ltd", "GB")  # 20% tax
        lease = book(session, org, T0, hours=4)
        gpu = get_lease(session, lease.id).allocations[0].gpu
        event = fleet_service.change_gpu_state(
            session, gpu, GpuState.FAILED, reason="xid", actor="op"
        )
        event.at = T0 + timedelta(hours=1)
        session.commit()
        end_due_at(session, T0 + timedelta(hours=4))
        rate(session, T0 + timedelta(hours=5))
        invoice = issue(session, org.id, "2026-03", APRIL)
        charge, credit = invoice.snapshot["lines"]
        assert (charge["amount"], credit["amount"]) == ("40.00", "-3.75")
        assert credit["gpu"] == gpu.address
        assert credit["gpu_event_id"] == event.id
        assert f"GPU event {event.id}" in credit["description"]
        assert invoice.subtotal == Decimal("36.25")
        assert invoice.tax == Decimal("7.25")  # 20%, rounded once
        assert invoice.total == Decimal("43.50")
        assert invoice.snapshot["tax"]["note"] == ""
        assert ledger.balance(session, org.id) == Decimal("-43.50")  # tax is in the ledger

    def test_zero_rate_notes_the_reverse_charge(self, session: Session) -> None:
        priced(session)
        org = customer(session, "Yankee Inc", "US")
        book(session, org, T0, hours=1)
        rate(session, T0 + timedelta(hours=2))
        invoice = issue(session, org.id, "2026-03", APRIL)
        assert invoice.tax == 0
        assert "Reverse charge" in invoice.snapshot["tax"]["note"]
        assert "Reverse charge" in invoices.to_html(invoice.snapshot)


class TestImmutable:
    def test_issued_invoice_unchanged_after_rate_card_and_dossier_change(
        self, client: TestClient, session: Session
    ) -> None:
        priced(session)
        bundled(session)
        org = customer(session)
        put = client.put(f"/v1/organizations/{org.id}/dossier", json=dossier("university"))
        assert put.status_code == 200, put.text
        book(session, org, T0, hours=2)
        rate(session, T0 + timedelta(hours=3))
        invoice = issue(session, org.id, "2026-03", APRIL)
        before = client.get(f"/v1/invoices/{invoice.id}").json()
        # The price doubles, the customer moves and renames itself.
        load_fleet(session, priced_fleet(nodes=2).replace("on_demand: 1.25", "on_demand: 2.50"))
        record = dossier("university")
        record["legal_name"] = "Renamed University"
        record["addresses"] = [{"street": "1 New Road", "city": "Elsewhere", "country": "US"}]
        assert client.put(f"/v1/organizations/{org.id}/dossier", json=record).status_code == 200
        after = client.get(f"/v1/invoices/{invoice.id}").json()
        assert after == before
        assert after["document"]["lines"][0]["rate"] == "1.25"
        assert after["document"]["customer"]["name"] != "Renamed University"
        assert invoices.draft(session, org.id, "2026-03")["lines"] == []  # nothing left open
        session.rollback()
        with pytest.raises(DBAPIError, match="never changes"):
            session.execute(text("UPDATE invoices SET total = 0 WHERE id = :i"), {"i": invoice.id})
        session.rollback()

    def test_credit_note_corrects_and_void_credits_back(self, session: Session) -> None:
        priced(session)
        org = customer(session)
        book(session, org, T0, hours=1)
        rate(session, T0 + timedelta(hours=2))
        invoice_id = issue(session, org.id, "2026-03", APRIL).id
        session.rollback()
        note = invoices.credit_note(
            session, invoice_id, Decimal("2.50"), "slow network", now=APRIL, actor="op"
        )
        assert note.number == "INV-2026-000002"
        assert note.total == Decimal("-2.50")
        assert ledger.balance(session, org.id) == Decimal("-7.50")
        session.rollback()
        from gpurent.errors import InvalidInputError

        with pytest.raises(InvalidInputError, match="what is left"):
            invoices.credit_note(
                session, invoice_id, Decimal("8.00"), "too much", now=APRIL, actor="op"
            )
        session.rollback()
        voided = invoices.change_invoice_status(session, invoice_id, "void", now=APRIL, actor="op")
        assert voided.status == "void"
        assert ledger.balance(session, org.id) == Decimal("0.00")
        session.rollback()
        assert issue(session, org.id, "2026-03", APRIL).snapshot["total"] == "10.00"


class TestNumbers:
    @pytest.mark.parametrize("workers", [6])
    def test_gapless_under_concurrent_issuing(
        self, session: Session, engine: Engine, workers: int
    ) -> None:
        orgs = [customer(session, f"Org {n}") for n in range(24)]
        begin_write(session)
        ledger.append(
            session,
            [
                ledger.entry(
                    organization_id=o.id,
                    kind=EntryKind.ADJUSTMENT,
                    amount=Decimal("-1.00"),
                    currency="USD",
                    key=f"seed:{o.id}",
                    actor="test",
                    at=T0,
                )
                for o in orgs
            ],
        )
        session.commit()
        factory = make_session_factory(engine)
        barrier = threading.Barrier(workers)
        errors: list[BaseException] = []

        def worker(share: list[int]) -> None:
            with factory() as own:
                barrier.wait()
                for org_id in share:
                    try:
                        invoices.issue(own, org_id, "2026-03", now=APRIL, actor="op")
                    except BaseException as exc:  # reported below
                        errors.append(exc)

        ids = [o.id for o in orgs]
        # every organization is issued by two workers at once: one invoice each, no gaps
        shares = [ids[i :: workers // 2] for i in range(workers // 2)] * 2
        threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        numbers = sorted(session.scalars(select(Invoice.number)))
        assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 25)]


class TestExports:
    def test_csv_and_json_add_up_and_html_renders_in_chromium(
        self, client: TestClient, session: Session, tmp_path: Path
    ) -> None:
        priced(session)
        org = customer(session, "Brit Ltd", "GB")
        for gpus, minutes in ((8, 200), (3, 61), (1, 7)):
            book(session, org, T0, gpus=gpus, end=T0 + timedelta(minutes=minutes))
        end_due_at(session, T0 + timedelta(hours=5))
        rate(session, T0 + timedelta(hours=5))
        invoice = issue(session, org.id, "2026-03", APRIL)
        document = client.get(f"/v1/invoices/{invoice.id}.json").json()["document"]
        assert _sum(document["lines"]) == Decimal(document["subtotal"])
        assert Decimal(document["subtotal"]) + Decimal(document["tax_amount"]) == Decimal(
            document["total"]
        )
        assert document["total"] == str(invoice.total.quantize(Decimal("0.01")))
        exported = client.get(f"/v1/invoices/{invoice.id}", headers={"Accept": "text/csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        lines = [r for r in rows if r["kind"] not in ("subtotal", "tax", "total")]
        totals = {
            r["kind"]: Decimal(r["amount"])
            for r in rows
            if r["kind"] in ("subtotal", "tax", "total")
        }
        assert sum(Decimal(r["amount"]) for r in lines) == totals["subtotal"]
        assert totals["subtotal"] + totals["tax"] == totals["total"] == invoice.total
        page = client.get(f"/v1/invoices/{invoice.id}.html")
        assert page.status_code == 200
        assert invoice.number in page.text
        assert client.get(f"/v1/invoices/{invoice.id}.pdf").status_code == 404
        _screenshot(page.text, tmp_path)


def _screenshot(html: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "invoice.html"
    page.write_text(html, encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "invoice.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1100,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_html_escapes_what_a_renter_wrote() -> None:
    hostile = "<script>alert(1)</script>"
    page = invoices.to_html(
        {
            "kind": "invoice", "status": "issued", "number": "INV-2026-000001",
            "month": "2026-03", "currency": "USD",
            "customer": {"name": hostile, "address": {"street": hostile, "city": "x",
                                                      "country": "US"}},
            "lines": [{"kind": "charge", "description": hostile, "amount": "1.00"}],
            "tax": {"country": "US", "rate": "0", "note": ""},
            "subtotal": "1.00", "tax_amount": "0.00", "total": "1.00",
        }
    )  # fmt: skip
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
