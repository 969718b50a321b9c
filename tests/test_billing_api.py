"""Billing through the API: a renter sees its own money only; the booking check; cost to
date on a lease; limits. Rating runs at injected times (the lease's own start + x)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gpurent.accounts.roles import Role
from gpurent.billing import accrual, balances
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.service import worker_round
from tests.billing_builders import priced
from tests.conftest import make_token
from tests.test_compliance import bundled, dossier


def _customer(client: TestClient, engine: Engine, name: str) -> tuple[int, dict[str, str]]:
    org = client.post("/v1/organizations", json={"name": name, "country": "US"}).json()
    put = client.put(f"/v1/organizations/{org['id']}/dossier", json=dossier("university"))
    assert put.status_code == 200, put.text
    token = make_token(engine, name, "customer", f"user-{name}", Role.RENTER)
    return org["id"], {"Authorization": f"Bearer {token}"}


def _top_up(client: TestClient, org_id: int, amount: str, reference: str) -> dict[str, object]:
    body = {"kind": "top_up", "amount": amount, "reference": reference}
    response = client.post(f"/v1/organizations/{org_id}/credits", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestRenterMoney:
    def test_balance_burn_run_out_and_cost_to_date(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        priced(session)
        bundled(session)
        org_id, renter = _customer(client, engine, "Acme")
        _top_up(client, org_id, "15.00", "pay-1")
        _top_up(client, org_id, "15.00", "pay-1")  # a retried webhook counts once
        lease = client.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 8, "hours": 2}, headers=renter
        )
        assert lease.status_code == 201, lease.text
        now = _at(lease.json()["start"]) + timedelta(minutes=30)
        accrual.rate_due(session, now, BillingPolicy())
        shown = client.get(f"/v1/leases/{lease.json()['id']}", headers=renter).json()
        assert Decimal(shown["cost_to_date"]) == Decimal("5.00")
        balance = client.get("/v1/balance", headers=renter).json()
        assert Decimal(balance["balance"]) == Decimal("10.00")
        assert Decimal(balance["burn_per_hour"]) == Decimal("10.00")
        assert balance["prepaid"] is True
        assert balance["runs_out_at"] is not None
        ledger = client.get(f"/v1/ledger?lease_id={lease.json()['id']}", headers=renter)
        assert ledger.headers["X-Total-Count"] == "1"
        assert Decimal(ledger.json()[0]["amount"]) == Decimal("-5.00")
        metrics = client.get("/metrics").text
        assert (
            'gpurent_revenue_total{currency="USD",model="A100-80GB",term="on_demand"} 5.0'
            in metrics
        )

    def test_refused_for_lack_of_balance(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        priced(session)
        bundled(session)
        org_id, renter = _customer(client, engine, "Acme")
        _top_up(client, org_id, "9.99", "pay-1")  # one hour of 8 x A100 is 10.00
        body = {"gpu_model": "A100-80GB", "gpus": 8, "hours": 3}
        refused = client.post("/v1/leases", json=body, headers=renter)
        assert refused.status_code == 402, refused.text
        (item,) = refused.json()["detail"]
        assert item["code"] == "insufficient_balance"
        assert "10.00" in item["msg"]
        # A shorter lease needs only its own window; a credit line counts too.
        assert (
            client.post("/v1/leases", json={**body, "hours": 0.5}, headers=renter).status_code
            == 201
        )
        client.put(f"/v1/organizations/{org_id}/billing", json={"credit_limit": "100"})
        assert client.post("/v1/leases", json=body, headers=renter).status_code == 201

    def test_reserved_needs_its_first_period(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        priced(session)
        bundled(session)
        org_id, renter = _customer(client, engine, "Acme")
        _top_up(client, org_id, "500", "pay-1")
        body = {"gpu_model": "A100-80GB", "gpus": 1, "term": "reserved", "months": 1}
        refused = client.post("/v1/leases", json=body, headers=renter)
        assert refused.status_code == 402  # about 810.00 for a month at 1.125
        assert "first period" in refused.json()["detail"][0]["msg"]

    def test_hostile_renter(self, client: TestClient, engine: Engine, session: Session) -> None:
        priced(session)
        bundled(session)
        own_id, renter = _customer(client, engine, "Own")
        other_id, _ = _customer(client, engine, "Other")
        _top_up(client, other_id, "50", "other-1")
        for path in ("/v1/balance", "/v1/ledger", "/v1/invoices/draft"):
            assert client.get(f"{path}?organization=Other", headers=renter).status_code == 404
            assert client.get(f"{path}?organization={other_id}", headers=renter).status_code == 404
        assert client.get("/v1/ledger", headers=renter).json() == []  # its own: empty
        gift = {"kind": "grant", "amount": "1000", "reference": "self"}
        assert (
            client.post(
                f"/v1/organizations/{own_id}/credits", json=gift, headers=renter
            ).status_code
            == 403
        )
        assert (
            client.put(
                f"/v1/organizations/{own_id}/billing", json={"credit_limit": "1e6"}, headers=renter
            ).status_code
            == 403
        )

    def test_bad_input_is_a_clear_4xx(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        bundled(session)
        org_id, _ = _customer(client, engine, "Acme")
        bad = [
            {"kind": "top_up", "amount": "-5", "reference": "r1"},
            {"kind": "top_up", "amount": "NaN", "reference": "r2"},
            {"kind": "top_up", "amount": "5", "reference": "has space"},
            {"kind": "steal", "amount": "5", "reference": "r3"},
            {"kind": "top_up", "amount": "5", "reference": "r4", "currency": "EUR"},
        ]
        for body in bad:
            response = client.post(f"/v1/organizations/{org_id}/credits", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["detail"][0]["code"]
        assert client.get("/v1/ledger?organization=Acme&month=2026-13").status_code == 422
        assert client.get("/v1/invoices/99999999").status_code == 404
        assert client.get("/v1/invoices/1.exe").status_code == 422
        assert client.get("/v1/balance").status_code == 422  # the operator has no bill
        again = {"kind": "top_up", "amount": "5", "reference": "same"}
        assert client.post(f"/v1/organizations/{org_id}/credits", json=again).status_code == 201
        other = {**again, "amount": "6"}
        assert client.post(f"/v1/organizations/{org_id}/credits", json=other).status_code == 409


class TestCaps:
    def test_hard_cap_refuses_and_alerts_fire(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        priced(session)
        bundled(session)
        org_id, renter = _customer(client, engine, "Acme")
        _top_up(client, org_id, "1000", "pay-1")
        put = client.put(
            f"/v1/organizations/{org_id}/billing", json={"monthly_cap": "25", "hard_cap": True}
        )
        assert put.status_code == 200, put.text
        body = {"gpu_model": "A100-80GB", "gpus": 8, "hours": 3}
        lease = client.post("/v1/leases", json=body, headers=renter).json()
        start = _at(lease["start"])
        worker_round(session, start + timedelta(hours=2), BillingPolicy())  # 20.00: 80%
        kinds = [a["kind"] for a in client.get("/v1/balance", headers=renter).json()["alerts"]]
        assert kinds == ["cap_80"]
        refused = client.post("/v1/leases", json=body, headers=renter)
        assert refused.status_code == 403
        assert refused.json()["detail"][0]["code"] == "spending_cap_reached"
        session.rollback()
        assert balances.month_to_date(session, org_id, start + timedelta(hours=2)) == Decimal(
            "20.00"
        )

    def test_user_cap(self, client: TestClient, engine: Engine, session: Session) -> None:
        priced(session)
        bundled(session)
        org_id, renter = _customer(client, engine, "Acme")
        _top_up(client, org_id, "1000", "pay-1")
        put = client.put(
            f"/v1/organizations/{org_id}/billing",
            json={"user": "user-Acme", "monthly_cap": "5", "hard_cap": True},
        )
        assert put.status_code == 200, put.text
        body = {"gpu_model": "A100-80GB", "gpus": 8, "hours": 1}
        refused = client.post("/v1/leases", json=body, headers=renter)
        assert refused.status_code == 403
        assert "your monthly cap" in refused.text


class TestDemo:
    def test_a_demo_renter_has_a_balance_that_burns(
        self, engine: Engine, session: Session, tmp_path: Path
    ) -> None:
        import json

        from gpurent.api.app import create_app
        from gpurent.config import Settings
        from gpurent.demo import load_demo

        load_demo(session, tmp_path / "token")
        tokens = json.loads((tmp_path / "demo-tokens.json").read_text())
        renter = {"Authorization": f"Bearer {tokens['Lakeside University']}"}
        settings = Settings(data_dir=tmp_path / "data", database_url=str(engine.url))
        with TestClient(create_app(settings, engine=engine)) as client:
            balance = client.get("/v1/balance", headers=renter).json()
        assert Decimal(balance["balance"]) == Decimal("500.00")
        assert Decimal(balance["burn_per_hour"]) == Decimal("2.50")  # 2 x A100 at 1.25
        left = _at(balance["runs_out_at"]) - datetime.now(UTC)
        assert timedelta(hours=199) < left <= timedelta(hours=200)
