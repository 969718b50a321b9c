"""The database itself refuses a double booking (PostgreSQL's exclusion constraint)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.leases.booking import EXCLUSION_VIOLATION, request_lease
from gpurent.leases.schemas import LeaseRequest
from tests.builders import load_fleet, priced_fleet
from tests.conftest import PostgresDatabases


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, postgres: PostgresDatabases, postgres_template: str
) -> Iterator[str]:
    """PostgreSQL only: on SQLite, bookings are serialized instead (see test_stress.py)."""
    name = postgres.create(template=postgres_template)
    yield postgres.url_for(name)
    postgres.drop(name)


class TestExclusionConstraint:
    def test_overlapping_live_allocation_is_refused(self, engine: Engine, session: Session) -> None:
        load_fleet(session, priced_fleet(nodes=1))
        start = datetime.now(UTC) + timedelta(days=1)
        lease, _ = request_lease(
            session, LeaseRequest(gpu_model="A100-80GB", gpus=1, start=start, hours=2), actor="t"
        )
        gpu_id = lease.allocations[0].gpu_id
        insert = text(
            "INSERT INTO allocations (lease_id, gpu_id, starts_at, ends_at, live, preemptible,"
            " updated_at) VALUES (:lease, :gpu, :start, :end, :live, false, now())"
        )
        overlapping = {
            "lease": lease.id,
            "gpu": gpu_id,
            "start": start + timedelta(hours=1),
            "end": start + timedelta(hours=3),
        }
        with engine.begin() as connection:  # a dead allocation may overlap
            connection.execute(insert, overlapping | {"live": False})
        with pytest.raises(IntegrityError) as caught, engine.begin() as connection:
            connection.execute(insert, overlapping | {"live": True})
        assert caught.value.orig is not None
        assert getattr(caught.value.orig, "sqlstate", None) == EXCLUSION_VIOLATION
        adjacent = overlapping | {"start": start + timedelta(hours=2), "live": True}
        with engine.begin() as connection:  # [start, end) ranges: touching is fine
            connection.execute(insert, adjacent)
