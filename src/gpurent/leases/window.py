"""A lease request's window: when it starts and ends, and the limits on both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from gpurent.config import Settings
from gpurent.errors import InvalidInputError
from gpurent.leases.schemas import LeaseRequest
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months, as_utc


@dataclass(frozen=True)
class LeaseLimits:
    """What the server allows (GPURENT_LEASE_*); every message names the limit it hit."""

    max_open: timedelta = timedelta(hours=168)
    max_window: timedelta = timedelta(hours=9600)
    min_window: timedelta = timedelta(minutes=1)
    max_months: int = 60
    max_advance: timedelta = timedelta(days=3650)
    past_grace: timedelta = timedelta(seconds=60)

    @classmethod
    def of(cls, settings: Settings) -> LeaseLimits:
        return cls(
            max_open=timedelta(hours=settings.lease_max_open_hours),
            max_window=timedelta(hours=settings.lease_max_hours),
            min_window=timedelta(minutes=settings.lease_min_minutes),
            max_months=settings.lease_max_months,
            max_advance=timedelta(days=settings.lease_max_advance_days),
        )

    def check_hours(
        self, hours: Decimal, field: str = "hours", *, with_minimum: bool = True
    ) -> timedelta:
        """``hours`` as a duration, if it lies within the limits (the schema caps it first).

        Quotes skip the minimum: a short one shows the rate card's minimum charge."""
        duration = timedelta(hours=float(hours))
        if with_minimum and duration < self.min_window:
            minutes = int(self.min_window.total_seconds() // 60)
            raise InvalidInputError(f"{field} must be at least {minutes} minute(s)", fields=[field])
        if duration > self.max_window:
            raise InvalidInputError(
                f"{field} may be at most {self.max_hours()} (GPURENT_LEASE_MAX_HOURS)",
                fields=[field],
            )
        return duration

    def check_months(self, months: int) -> None:
        if months > self.max_months:
            raise InvalidInputError(
                f"a reserved term lasts at most {self.max_months} months", fields=["months"]
            )

    def check_start(self, start: datetime, now: datetime, field: str = "start") -> None:
        if start < now - self.past_grace:
            raise InvalidInputError("the window starts in the past", fields=[field])
        if start > now + self.max_advance:
            raise InvalidInputError(
                f"a window may start at most {self.max_advance.days} days ahead", fields=[field]
            )

    def max_hours(self) -> int:
        return int(self.max_window.total_seconds() // 3600)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    open_ended: bool


def resolve_window(request: LeaseRequest, now: datetime, limits: LeaseLimits) -> Window:
    start = as_utc(request.start) if request.start else now
    limits.check_start(start, now)
    if request.term is Term.RESERVED:
        if request.months is None:
            raise InvalidInputError("a reserved lease needs 'months'", fields=["months"])
        if request.end or request.hours:
            raise InvalidInputError(
                "a reserved lease ends 'months' after its start: give no end or hours",
                fields=["end"],
            )
        limits.check_months(request.months)
        return Window(start, add_months(start, request.months), False)
    if request.months is not None:
        raise InvalidInputError("'months' is for reserved terms", fields=["months"])
    if request.end and request.hours:
        raise InvalidInputError("give 'end' or 'hours', not both", fields=["end", "hours"])
    if request.end:
        end, open_ended = as_utc(request.end), False
    elif request.hours:
        end, open_ended = start + limits.check_hours(request.hours), False
    else:
        end, open_ended = start + limits.max_open, True
    if end <= start:
        raise InvalidInputError("the window ends before it starts", fields=["end"])
    if end - start < limits.min_window:
        raise InvalidInputError("the window is shorter than the shortest lease", fields=["end"])
    if end - start > limits.max_window:
        raise InvalidInputError(
            f"a window may last at most {limits.max_hours()} hours (GPURENT_LEASE_MAX_HOURS)",
            fields=["end"],
        )
    return Window(start, end, open_ended)
