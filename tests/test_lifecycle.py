"""The worker's steps: start, warn, end, move off failed GPUs; each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gpurent.leases.lifecycle import run_due
from gpurent.timeutil import utcnow
from tests.builders import load_fleet, priced_fleet
from tests.test_leases import book, iso, later

NOTICE = timedelta(minutes=15)


@pytest.fixture
def api(client: TestClient, session: Session) -> TestClient:
    load_fleet(session, priced_fleet(nodes=2))
    return client


def kinds(api: TestClient, lease_id: int) -> list[str]:
    return [e["kind"] for e in api.get(f"/v1/leases/{lease_id}/events").json()]


class TestLifecycle:
    def test_start_warn_end_once_each(self, api: TestClient, session: Session) -> None:
        lease = book(api, gpus=2, start=iso(later(hours=1)), hours=1)
        assert run_due(session, utcnow(), NOTICE).total == 0
        at_start = utcnow() + timedelta(hours=1, seconds=1)
        report = run_due(session, at_start, NOTICE)
        assert report.started == [lease["id"]]
        assert api.get(f"/v1/leases/{lease['id']}").json()["status"] == "active"
        near_end = at_start + timedelta(minutes=50)
        assert run_due(session, near_end, NOTICE).notified == [lease["id"]]
        assert run_due(session, near_end, NOTICE).total == 0
        after_end = at_start + timedelta(hours=1)
        assert run_due(session, after_end, NOTICE).ended == [lease["id"]]
        assert run_due(session, after_end, NOTICE).total == 0
        assert kinds(api, lease["id"]) == ["created", "active", "before_end", "ended"]

    def test_preempted_lease_ends_as_preempted(self, api: TestClient, session: Session) -> None:
        spot = [book(api, gpus=8, hours=10, term="interruptible") for _ in range(2)]
        needed = book(api, gpus=8, start=iso(later(hours=1)), hours=1)
        victim = next(s for s in spot if s["gpu_ids"] == needed["gpu_ids"])
        run_due(session, utcnow() + timedelta(hours=1, seconds=1), NOTICE)
        assert api.get(f"/v1/leases/{victim['id']}").json()["status"] == "preempted"
        assert api.get(f"/v1/leases/{needed['id']}").json()["status"] == "active"

    def test_future_lease_moves_off_a_failed_gpu(self, api: TestClient, session: Session) -> None:
        lease = book(api, gpus=4, start=iso(later(days=1)), hours=2)
        broken = lease["gpu_addresses"][0]
        serial = api.get("/v1/gpus", params={"node": broken.split("/")[0]}).json()[
            int(broken.split("/")[1])
        ]["serial"]
        api.put(f"/v1/gpus/{serial}/state", json={"state": "failed", "reason": "xid 79"})
        report = run_due(session, utcnow(), NOTICE)
        assert report.replaced == [lease["id"]]
        moved = api.get(f"/v1/leases/{lease['id']}").json()
        assert broken not in moved["gpu_addresses"]
        assert len(moved["gpu_ids"]) == 4
        assert moved["flag"] is None
        assert "replaced" in kinds(api, lease["id"])
        assert run_due(session, utcnow(), NOTICE).total == 0

    def test_flagged_when_no_healthy_gpus(self, api: TestClient, session: Session) -> None:
        lease = book(api, gpus=8, start=iso(later(days=1)), hours=2)
        book(api, gpus=8, start=iso(later(days=1)), hours=2)
        serial = api.get(f"/v1/gpus/{lease['gpu_ids'][3]}").json()["serial"]
        api.put(f"/v1/gpus/{serial}/state", json={"state": "failed", "reason": "dead"})
        assert run_due(session, utcnow(), NOTICE).flagged == [lease["id"]]
        flagged = api.get(f"/v1/leases/{lease['id']}").json()
        assert "no healthy GPUs" in flagged["flag"]
        assert flagged["gpu_ids"] == lease["gpu_ids"]  # it keeps what it had
        assert run_due(session, utcnow(), NOTICE).total == 0  # flagged once
