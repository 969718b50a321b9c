"""A lease request's window: when it starts and ends, and the limits on both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gpurent.config import Settings
from gpurent.errors import InvalidInputError
from gpurent.leases.schemas import LeaseRequest
from gpurent.offers.terms import Term
from gpurent.timeutil import add_months, as_utc


@dataclass(frozen=True)
class LeaseLimits:
    max_open: timedelta = timedelta(hours=168)
    max_window: timedelta = timedelta(days=400)
    past_grace: timedelta = timedelta(seconds=60)

    @classmethod
    def of(cls, settings: Settings) -> LeaseLimits:
        return cls(max_open=timedelta(hours=settings.lease_max_open_hours))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    open_ended: bool


def resolve_window(request: LeaseRequest, now: datetime, limits: LeaseLimits) -> Window:
    start = as_utc(request.start) if request.start else now
    if start < now - limits.past_grace:
        raise InvalidInputError("the window starts in the past", fields=["start"])
    if request.term is Term.RESERVED:
        if request.months is None:
            raise InvalidInputError("a reserved lease needs 'months'", fields=["months"])
        if request.end or request.hours:
            raise InvalidInputError(
                "a reserved lease ends 'months' after its start: give no end or hours",
                fields=["end"],
            )
        return Window(start, add_months(start, request.months), False)
    if request.months is not None:
        raise InvalidInputError("'months' is for reserved terms", fields=["months"])
    if request.end and request.hours:
        raise InvalidInputError("give 'end' or 'hours', not both", fields=["end", "hours"])
    if request.end:
        end, open_ended = as_utc(request.end), False
    elif request.hours:
        end, open_ended = start + timedelta(hours=float(request.hours)), False
    else:
        end, open_ended = start + limits.max_open, True
    if end <= start:
        raise InvalidInputError("the window ends before it starts", fields=["end"])
    if end - start > limits.max_window:
        raise InvalidInputError(
            f"a window may last at most {limits.max_window.days} days", fields=["end"]
        )
    return Window(start, end, open_ended)
