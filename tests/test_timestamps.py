"""Times are timezone-aware UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from gpurent.fleet.models import Facility


class TestUtcDateTime:
    def test_round_trip_is_aware_utc(self, session: Session) -> None:
        tokyo = timezone(timedelta(hours=9))
        moment = datetime(2026, 11, 29, 9, 30, tzinfo=tokyo)
        session.add(Facility(name="f1", country="JP", city="Tokyo", created_at=moment))
        session.commit()
        session.expire_all()
        stored = session.query(Facility).one().created_at
        assert stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0)
        assert stored == moment
        assert stored.hour == 0

    def test_naive_datetime_is_refused(self, session: Session) -> None:
        session.add(Facility(name="f2", country="US", city="X", created_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.commit()

    def test_default_is_now(self, session: Session) -> None:
        before = datetime.now(UTC)
        session.add(Facility(name="f3", country="US", city="X"))
        session.commit()
        assert session.query(Facility).one().created_at >= before
