"""Leases through the API on both databases: booking, placement, changes, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.demo import load_demo
from gpurent.leases.models import Allocation, Lease
from tests.builders import load_fleet, load_two_countries, priced_fleet


def iso(moment: datetime) -> str:
    return moment.isoformat()


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


@pytest.fixture
def api(client: TestClient, session: Session) -> TestClient:
    """Four A100-80GB nodes of 8 GPUs: node-00 and node-02 in ib-1, the others in ib-2."""
    load_fleet(session, priced_fleet(nodes=4, domains=2))
    return client


def book(
    api: TestClient, expect: int = 201, headers: dict[str, str] | None = None, **body: Any
) -> Any:
    body.setdefault("gpu_model", "A100-80GB")
    response = api.post("/v1/leases", json=body, headers=headers or {})
    assert response.status_code == expect, response.text
    return response.json()


def nodes_of(lease: dict[str, Any]) -> set[str]:
    return {address.split("/")[0] for address in lease["gpu_addresses"]}


def lease_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Lease.id))) or 0


class TestQuotes:
    def test_demo_quote_is_ten_dollars(
        self, client: TestClient, session: Session, tmp_path: Any
    ) -> None:
        load_demo(session, tmp_path / "token")
        body = {"gpu_model": "A100-80GB", "gpus": 8, "hours": 1, "term": "on_demand"}
        quote = client.post("/v1/quotes", json=body).json()
        assert quote["total"] == "10.00"
        assert quote["currency"] == "USD"

    def test_reserved_and_minimum_charge(self, api: TestClient) -> None:
        reserved = api.post(
            "/v1/quotes",
            json={
                "gpu_model": "A100-80GB",
                "gpus": 1,
                "term": "reserved",
                "months": 3,
                "start": "2027-01-01T00:00:00Z",
            },
        ).json()
        assert reserved["seconds"] == 90 * 86400  # Jan + Feb + Mar 2027
        assert reserved["hourly_per_gpu"] == "1"  # 1.25 less 20%
        assert reserved["total"] == "2160.00"
        short = api.post(
            "/v1/quotes", json={"gpu_model": "A100-80GB", "gpus": 2, "hours": "0.001"}
        ).json()
        assert short["billable_seconds"] == 60  # the minimum charge
        assert short["total"] == "0.04"

    def test_term_not_offered(self, api: TestClient) -> None:
        response = api.post(
            "/v1/quotes", json={"gpu_model": "H20", "gpus": 1, "hours": 1, "term": "interruptible"}
        )
        assert response.status_code == 422
        assert "no interruptible price" in response.json()["detail"][0]["msg"]


class TestBooking:
    def test_now_is_active_on_one_node(self, api: TestClient) -> None:
        lease = book(api, gpus=8, hours=2)
        assert lease["status"] == "active"
        assert len(lease["gpu_ids"]) == 8
        assert len(nodes_of(lease)) == 1
        assert lease["price"]["total"] == "20.00"

    def test_best_fit_fills_partly_used_nodes_first(self, api: TestClient) -> None:
        first = book(api, gpus=4, hours=2)
        second = book(api, gpus=4, hours=2)
        assert nodes_of(first) == nodes_of(second)  # whole nodes stay free
        big = book(api, gpus=24, hours=2)
        assert len(nodes_of(big)) == 3

    def test_large_request_stays_in_one_interconnect_domain(self, api: TestClient) -> None:
        lease = book(api, gpus=16, hours=2)
        assert nodes_of(lease) in ({"node-00", "node-02"}, {"node-01", "node-03"})

    def test_a_gpu_is_never_sold_twice(self, api: TestClient, session: Session) -> None:
        for _ in range(4):
            book(api, gpus=8, hours=2)
        refused = api.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1})
        assert refused.status_code == 409
        assert refused.json()["detail"][0]["code"] == "no_capacity"
        assert lease_count(session) == 4

    def test_future_window_is_scheduled(self, api: TestClient) -> None:
        lease = book(api, gpus=2, start=iso(later(days=1)), end=iso(later(days=2)))
        assert lease["status"] == "scheduled"

    def test_open_ended_runs_until_released(self, api: TestClient) -> None:
        lease = book(api, gpus=1)
        assert lease["open_ended"] is True
        length = datetime.fromisoformat(lease["end"]) - datetime.fromisoformat(lease["start"])
        assert length == timedelta(hours=168)
        released = api.post(f"/v1/leases/{lease['id']}/release").json()
        assert released["status"] == "ended"
        assert datetime.fromisoformat(released["end"]) <= datetime.now(UTC)
        assert released["price"]["billable_seconds"] == 60  # the minimum, not a week

    def test_reserved_term(self, api: TestClient) -> None:
        start = datetime(2030, 1, 31, tzinfo=UTC)
        lease = book(api, gpus=8, term="reserved", months=1, start=iso(start))
        assert datetime.fromisoformat(lease["end"]) == datetime(2030, 2, 28, tzinfo=UTC)
        assert lease["price"]["hourly_per_gpu"] == "1.125"

    def test_idempotent_retry_books_once(self, api: TestClient, session: Session) -> None:
        headers = {"Idempotency-Key": "order-17"}
        first = api.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 2, "hours": 1}, headers=headers
        )
        again = api.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 2, "hours": 1}, headers=headers
        )
        assert first.json() == again.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert lease_count(session) == 1
        other = api.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 3, "hours": 1}, headers=headers
        )
        assert other.status_code == 409
        assert lease_count(session) == 1

    def test_failed_gpus_are_never_placed(self, api: TestClient) -> None:
        changes = [(f"S-00-{i}", "failed") for i in range(8)]
        changes += [(f"S-0{n}-0", "maintenance") for n in (1, 2, 3)]
        for serial, state in changes:
            response = api.put(f"/v1/gpus/{serial}/state", json={"state": state, "reason": "x"})
            assert response.status_code == 200
        refused = api.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 8, "hours": 1})
        assert refused.status_code == 409
        lease = book(api, gpus=7, hours=1)
        assert not nodes_of(lease) & {"node-00"}
        assert not {"node-01/0", "node-02/0", "node-03/0"} & set(lease["gpu_addresses"])


class TestInterruptible:
    def test_preempted_by_on_demand_and_charged_until_then(self, api: TestClient) -> None:
        spot = [book(api, gpus=8, hours=10, term="interruptible") for _ in range(4)]
        assert spot[0]["price"]["hourly_per_gpu"] == "0.5"
        start = later(hours=2)
        needed = book(api, gpus=8, start=iso(start), hours=1)
        victim_id = next(s["id"] for s in spot if set(s["gpu_ids"]) == set(needed["gpu_ids"]))
        victim = api.get(f"/v1/leases/{victim_id}").json()
        assert victim["status"] == "active"
        assert datetime.fromisoformat(victim["end"]) == start
        assert victim["price"]["billable_seconds"] == pytest.approx(7200, abs=2)
        kinds = [e["kind"] for e in api.get(f"/v1/leases/{victim_id}/events").json()]
        assert "preemption_notice" in kinds
        untouched = [s for s in spot if s["id"] != victim_id]
        assert all(api.get(f"/v1/leases/{s['id']}").json()["end"] == s["end"] for s in untouched)

    def test_interruptible_never_preempts(self, api: TestClient) -> None:
        for _ in range(4):
            book(api, gpus=8, hours=10, term="interruptible")
        book(api, expect=409, gpus=1, hours=1, term="interruptible")


class TestChanges:
    def test_extend_and_shorten(self, api: TestClient) -> None:
        lease = book(api, gpus=8, hours=2)
        longer = api.post(f"/v1/leases/{lease['id']}/extend", json={"hours": 3}).json()
        assert datetime.fromisoformat(longer["end"]) - datetime.fromisoformat(
            lease["end"]
        ) == timedelta(hours=3)
        shorter = api.post(f"/v1/leases/{lease['id']}/shorten", json={"hours": 4}).json()
        assert datetime.fromisoformat(shorter["end"]) - datetime.fromisoformat(
            lease["end"]
        ) == timedelta(hours=-1)
        kinds = [e["kind"] for e in api.get(f"/v1/leases/{lease['id']}/events").json()]
        assert kinds == ["created", "extended", "shortened"]

    def test_colliding_extension_is_refused_and_changes_nothing(self, api: TestClient) -> None:
        for _ in range(4):
            book(api, gpus=8, hours=2)
        first = book(api, gpus=8, start=iso(later(hours=3)), hours=2)
        blocker = book(api, gpus=8, start=iso(later(hours=6)), hours=2)
        assert first["gpu_ids"] == blocker["gpu_ids"]  # best fit stacks them on one node
        response = api.post(f"/v1/leases/{first['id']}/extend", json={"hours": 2})
        assert response.status_code == 409
        message = response.json()["detail"][0]["msg"]
        assert "collides with another lease" in message
        assert f"lease {blocker['id']}" not in message  # renters never learn others' leases
        assert api.get(f"/v1/leases/{first['id']}").json()["end"] == first["end"]

    def test_cancel_future_but_not_active(self, api: TestClient) -> None:
        future = book(api, gpus=8, start=iso(later(days=1)), hours=1)
        assert api.post(f"/v1/leases/{future['id']}/cancel").json()["status"] == "cancelled"
        again = api.post(f"/v1/leases/{future['id']}/cancel")
        assert again.status_code == 409
        assert again.json()["detail"][0]["code"] == "invalid_transition"
        active = book(api, gpus=8, hours=1)
        assert api.post(f"/v1/leases/{active['id']}/cancel").status_code == 409

    def test_cancelled_gpus_are_free_again(self, api: TestClient) -> None:
        leases = [book(api, gpus=8, hours=2) for _ in range(4)]
        api.post(f"/v1/leases/{leases[0]['id']}/release")
        assert book(api, gpus=8, hours=2)["gpu_ids"] == leases[0]["gpu_ids"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "status", "needle"),
        [
            ({"gpus": 1, "start": "2020-01-01T00:00:00Z", "hours": 1}, 422, "in the past"),
            (
                {"gpus": 1, "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
                422,
                "ends before",
            ),
            ({"gpus": 1, "gpu_model": "A100-81GB", "hours": 1}, 404, "unknown GPU model"),
            ({"gpus": 0, "hours": 1}, 422, "greater than or equal to 1"),
            ({"gpus": 33, "hours": 1}, 422, "no facility has 33"),
            ({"gpus": 1, "start": "2030-01-01T00:00:00", "hours": 1}, 422, "timezone"),
            ({"gpus": 1, "term": "reserved"}, 422, "needs 'months'"),
            ({"gpus": 1, "hours": 1, "end": "2030-01-01T00:00:00Z"}, 422, "not both"),
        ],
    )
    def test_refused_with_reason_and_nothing_written(
        self, api: TestClient, session: Session, body: dict[str, Any], status: int, needle: str
    ) -> None:
        body.setdefault("gpu_model", "A100-80GB")
        response = api.post("/v1/leases", json=body)
        assert response.status_code == status
        assert needle in response.json()["detail"][0]["msg"]
        assert lease_count(session) == 0
        assert session.scalar(select(func.count(Allocation.id))) == 0


class TestListing:
    def test_pages(self, api: TestClient) -> None:
        ids = [book(api, gpus=1, hours=1)["id"] for _ in range(5)]
        page = api.get("/v1/leases", params={"limit": 2})
        assert page.headers["X-Total-Count"] == "5"
        assert [lease["id"] for lease in page.json()] == ids[::-1][:2]
        keys = set(page.json()[0])
        assert {"id", "status", "gpu_model", "start", "end", "gpu_ids"} <= keys


class TestMetrics:
    def test_leases_by_status_and_gpus_leased(self, api: TestClient) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        book(api, gpus=8, hours=1)
        book(api, gpus=2, start=iso(later(days=1)), hours=1)
        families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
        leases = {
            (s.labels["status"], s.labels["model"]): s.value
            for s in families["gpurent_leases"].samples
        }
        assert leases == {("active", "A100-80GB"): 1, ("scheduled", "A100-80GB"): 1}
        leased = {s.labels["model"]: s.value for s in families["gpurent_gpus_leased"].samples}
        assert leased == {"A100-80GB": 8}


class TestFilters:
    def test_country_and_facility(self, client: TestClient, session: Session) -> None:
        load_two_countries(session)
        assert book(client, gpus=2, hours=1, country="DE")["facility"] == "de-test-1"
        assert book(client, gpus=2, hours=1, facility="us-test-1")["country"] == "US"
        missing = client.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1, "facility": "x"}
        )
        assert missing.status_code == 404


class TestExtensionPreempts:
    def test_on_demand_extension_takes_interruptible_gpus(self, api: TestClient) -> None:
        for _ in range(3):
            book(api, gpus=8, hours=4)
        first = book(api, gpus=8, hours=2)  # the last free node
        spot = book(api, gpus=8, start=first["end"], hours=5, term="interruptible")
        assert spot["gpu_ids"] == first["gpu_ids"]
        extended = api.post(f"/v1/leases/{first['id']}/extend", json={"hours": 1})
        assert extended.status_code == 200
        after = api.get(f"/v1/leases/{spot['id']}").json()
        assert after["status"] == "preempted"  # it had not started: it loses its window
        kinds = [e["kind"] for e in api.get(f"/v1/leases/{spot['id']}/events").json()]
        assert "preemption_notice" in kinds
