"""Availability search and calendar, through the API, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.builders import load_fleet, load_two_countries, priced_fleet
from tests.test_leases import book, iso, later


@pytest.fixture
def api(client: TestClient, session: Session) -> TestClient:
    load_fleet(session, priced_fleet(nodes=2))
    return client


def search(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("gpu_model", "A100-80GB")
    response = api.get("/v1/availability", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class TestSearch:
    def test_free_fleet_answers_now_with_placement_and_quote(self, api: TestClient) -> None:
        windows = search(api, gpus=8, hours=1)
        assert len(windows) == 1
        start = datetime.fromisoformat(windows[0]["start"])
        assert abs(start - datetime.now(UTC)) < timedelta(seconds=5)
        assert len({a.split("/")[0] for a in windows[0]["gpu_addresses"]}) == 1
        assert windows[0]["quote"]["total"] == "10.00"

    def test_busy_fleet_answers_when_it_frees_up(self, api: TestClient) -> None:
        first = book(api, gpus=8, hours=3)
        book(api, gpus=8, hours=5)
        windows = search(api, gpus=8, hours=72)
        assert windows[0]["start"] == first["end"]
        assert windows[0]["gpu_ids"] == first["gpu_ids"]
        booked = book(api, gpus=8, start=windows[0]["start"], hours=72)
        assert booked["gpu_ids"] == first["gpu_ids"]

    def test_gap_too_short_is_skipped(self, api: TestClient) -> None:
        book(api, gpus=16, hours=1)
        book(api, gpus=16, start=iso(later(hours=2)), hours=4)
        windows = search(api, gpus=16, hours=2)  # the one-hour gap does not fit
        expected = later(hours=6)
        assert abs(datetime.fromisoformat(windows[0]["start"]) - expected) < timedelta(seconds=5)

    def test_interruptible_capacity_counts_for_on_demand(self, api: TestClient) -> None:
        book(api, gpus=16, hours=10, term="interruptible")
        on_demand = search(api, gpus=8, hours=1)
        assert on_demand[0]["preempts_interruptible"] == 8
        assert abs(datetime.fromisoformat(on_demand[0]["start"]) - datetime.now(UTC)) < timedelta(
            seconds=5
        )
        spot = search(api, gpus=8, hours=1, term="interruptible")
        assert datetime.fromisoformat(spot[0]["start"]) > later(hours=9)

    def test_one_window_per_facility_and_filters(
        self, client: TestClient, session: Session
    ) -> None:
        load_two_countries(session)
        assert {w["facility"] for w in search(client, gpus=2, hours=1)} == {
            "us-test-1",
            "de-test-1",
        }
        assert [w["country"] for w in search(client, gpus=2, hours=1, country="DE")] == ["DE"]
        assert len(search(client, gpus=2, hours=1, limit=1)) == 1
        assert search(client, gpus=2, hours=1, facility="nowhere") == []

    def test_unknown_model(self, api: TestClient) -> None:
        response = api.get("/v1/availability", params={"gpu_model": "X1", "gpus": 1, "hours": 1})
        assert response.status_code == 404


class TestCalendar:
    def test_busy_intervals_per_node_and_gpu(self, api: TestClient) -> None:
        lease = book(api, gpus=2, start=iso(later(hours=1)), hours=2)
        params = {
            "start": iso(later()),
            "end": iso(later(hours=5)),
            "node": lease["gpu_addresses"][0].split("/")[0],
        }
        nodes = api.get("/v1/calendar", params=params).json()
        assert len(nodes) == 1
        busy = {g["address"]: g["busy"] for g in nodes[0]["gpus"]}
        for address in lease["gpu_addresses"]:
            assert [b["lease_id"] for b in busy[address]] == [lease["id"]]
        assert sum(1 for intervals in busy.values() if intervals) == 2
        later_range = {"start": iso(later(hours=4)), "end": iso(later(hours=5))}
        assert all(
            not g["busy"]
            for n in api.get("/v1/calendar", params=later_range).json()
            for g in n["gpus"]
        )
