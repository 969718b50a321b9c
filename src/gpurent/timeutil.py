"""Time helpers: everything is timezone-aware UTC."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; naive input is refused (never guessed)."""
    if moment.tzinfo is None:
        raise ValueError("a time needs a timezone (for example 2026-12-01T00:00:00Z)")
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
