"""Pure rating arithmetic: what a lease owes through a moment, split by period.

The rule (docs/billing.md): a lease's cost through a moment t is computed exactly, as
Decimal, from its billable seconds through t (at least the minimum, rounded up to the
granularity) times GPUs times the rate fixed at booking, and then rounded half-up to the
currency's minor unit. A period's amount is the rounded cost through its end minus the
rounded cost through its start; so a period's line is rounded once, and the lines of a
lease add up to its rounded total to the cent, however its time is split.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

SECONDS_PER_HOUR = Decimal(3600)
MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}  # every other currency: cents


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def round_money(value: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit: the one rounding of an invoice line."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Meter:
    """How a lease is charged in arrears: from ``start``, GPUs x rate per GPU-hour."""

    start: datetime
    gpus: int
    rate: Decimal  # per GPU-hour, fixed at booking
    currency: str
    minimum_seconds: int = 0
    granularity_seconds: int = 1

    def billable_seconds(self, through: datetime) -> int:
        seconds = math.ceil((through - self.start).total_seconds())
        if seconds <= 0:
            return 0  # nothing held yet: not even the minimum
        seconds = max(seconds, self.minimum_seconds)
        step = max(self.granularity_seconds, 1)
        return math.ceil(seconds / step) * step

    def exact_cost(self, through: datetime) -> Decimal:
        seconds = Decimal(self.billable_seconds(through))
        return self.rate * self.gpus * seconds / SECONDS_PER_HOUR

    def cost(self, through: datetime) -> Decimal:
        """The rounded cost through a moment."""
        return round_money(self.exact_cost(through), self.currency)

    def between(self, start: datetime, end: datetime) -> Decimal:
        """What the span [start, end) of the lease costs, as a line of its own."""
        return self.cost(end) - self.cost(start)

    def gpu_hours(self, start: datetime, end: datetime) -> Decimal:
        billed = self.billable_seconds(end) - self.billable_seconds(start)
        return Decimal(billed) * self.gpus / SECONDS_PER_HOUR


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    return datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-12' -> its first moment and the next month's first moment (UTC)."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    return start, next_month_start(start)


def by_month(start: datetime, end: datetime) -> Iterator[tuple[str, datetime, datetime]]:
    """[start, end) cut at the first moment of each calendar month (UTC)."""
    cursor = start
    while cursor < end:
        cut = min(end, next_month_start(cursor))
        yield month_of(cursor), cursor, cut
        cursor = cut
