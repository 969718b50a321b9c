"""The availability index follows bookings and cancellations, and forgets the past."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gpurent.catalog import service as catalog_service
from gpurent.leases import index as index_module
from gpurent.leases.index import AvailabilityIndex
from tests.builders import load_fleet, priced_fleet
from tests.test_leases import book, iso, later


def busy_gpus(index: AvailabilityIndex, session: Session) -> set[int]:
    index.refresh(session)
    model_id = catalog_service.get_model(session, "A100-80GB").id
    session.rollback()
    _, timelines, _ = index.view(model_id)
    return {gpu for gpu, line in timelines.items() if line.starts}


class TestIndex:
    def test_follows_bookings_and_cancellations(self, client: TestClient, session: Session) -> None:
        load_fleet(session, priced_fleet(nodes=2))
        index = AvailabilityIndex()
        assert busy_gpus(index, session) == set()
        lease = book(client, gpus=4, start=iso(later(hours=1)), hours=1)
        assert busy_gpus(index, session) == set(lease["gpu_ids"])
        client.post(f"/v1/leases/{lease['id']}/cancel")
        assert busy_gpus(index, session) == set()

    def test_forgets_allocations_that_ended_long_ago(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        load_fleet(session, priced_fleet(nodes=1))
        lease = book(client, gpus=2, hours=1)
        index = AvailabilityIndex()
        assert busy_gpus(index, session) == set(lease["gpu_ids"])
        three_days_on = index_module.utcnow() + timedelta(days=3)
        monkeypatch.setattr(index_module, "utcnow", lambda: three_days_on)
        assert busy_gpus(index, session) == set()
