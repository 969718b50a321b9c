"""``gpurent balance``, ``ledger``, ``credit add``, ``limit set`` and ``invoice``, run as
real processes against the database the tests prepared (leases booked at injected times)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from gpurent.billing.rating import month_of
from gpurent.timeutil import utcnow
from tests.billing_builders import book, customer, end_due_at, priced, rate
from tests.test_cli import run


def test_money_commands(db_url: str, session: Session) -> None:
    priced(session)
    org = customer(session, "Acme")
    env = {"GPURENT_DATABASE_URL": db_url}

    def ok(*args: str) -> str:
        result = run(*args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "top_up 50.00 USD; balance 50.00" in ok(
        "credit", "add", "Acme", "50", "--kind", "top_up", "--reference", "pay-1"
    )
    ok("limit", "set", "Acme", "--credit-line", "20", "--cap", "500")
    now = utcnow()
    lease = book(session, org, now, gpus=2, hours=3)  # 2.50 an hour
    rate(session, now + timedelta(hours=1))
    shown = ok("balance", "-o", "Acme")
    assert "balance        47.50 USD" in shown
    assert "credit line    20.00 USD" in shown
    assert "burn rate      2.50 USD/hour" in shown
    assert "runs out at    20" in shown  # a time, in about 27 hours
    payload = json.loads(ok("balance", "-o", "Acme", "--json"))
    assert Decimal(payload["available"]) == Decimal("67.50")
    assert "cost to date:" in ok("lease", "show", str(lease.id))
    entries = json.loads(ok("ledger", "-o", "Acme", "--lease", str(lease.id), "--json"))
    assert [Decimal(e["amount"]) for e in entries] == [Decimal("-2.50")]
    refused = run(
        "credit", "add", "--kind", "grant", "--reference", "g", "--", "Acme", "-5", env=env
    )
    assert refused.returncode == 1
    assert "positive" in refused.stderr

    end_due_at(session, now + timedelta(hours=3))
    rate(session, now + timedelta(hours=3, minutes=5))
    month = month_of(now)
    draft = json.loads(ok("invoice", "show", "draft", "-o", "Acme", "--month", month, "--json"))
    assert draft["status"] == "draft"
    assert draft["total"] == "7.50"
    early = run("invoice", "issue", "--month", month, env=env)
    assert early.returncode == 1
    assert "still open" in early.stderr


def test_issue_and_export(db_url: str, session: Session) -> None:
    priced(session)
    org = customer(session, "Acme")
    env = {"GPURENT_DATABASE_URL": db_url}
    start = utcnow() - timedelta(days=70)  # a month that has ended
    book(session, org, start, gpus=8, hours=1)
    end_due_at(session, start + timedelta(hours=1))
    rate(session, start + timedelta(hours=2))
    result = run("invoice", "issue", "--month", month_of(start), env=env)
    assert result.returncode == 0, result.stderr
    assert "INV-" in result.stdout
    assert "10.00 USD" in result.stdout
    listed = json.loads(run("invoice", "list", "--json", env=env).stdout)
    (invoice,) = listed
    exported = run("invoice", "export", str(invoice["id"]), "--format", "csv", env=env).stdout
    rows = {r["kind"]: r["amount"] for r in csv.DictReader(io.StringIO(exported))}
    assert rows["total"] == "10.00"
    page = run("invoice", "export", invoice["number"], "--format", "html", env=env).stdout
    assert invoice["number"] in page
    assert "<table>" in page
