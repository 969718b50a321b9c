"""Pure price arithmetic: Decimal in, Decimal out, no database."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gpurent.offers.terms import Term

CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True)
class Rates:
    """What a rate card charges, per GPU-hour, in one currency."""

    currency: str
    on_demand: Decimal
    interruptible: Decimal | None
    reserved_discounts: Mapping[int, Decimal]  # months -> fraction off on-demand
    granularity_seconds: int
    minimum_seconds: int

    def hourly(self, term: Term, months: int | None = None) -> Decimal:
        """The price of one GPU-hour under a term; ValueError if the card does not offer it."""
        if term is Term.ON_DEMAND:
            return self.on_demand
        if term is Term.INTERRUPTIBLE:
            if self.interruptible is None:
                raise ValueError("this offer has no interruptible price")
            return self.interruptible
        if months is None or months not in self.reserved_discounts:
            offered = ", ".join(str(m) for m in sorted(self.reserved_discounts)) or "none"
            raise ValueError(f"no reserved term of {months} month(s) (offered: {offered})")
        return self.on_demand * (1 - self.reserved_discounts[months])

    def billable_seconds(self, seconds: int) -> int:
        """At least the minimum, rounded up to the granularity."""
        seconds = max(seconds, self.minimum_seconds)
        step = self.granularity_seconds
        return math.ceil(seconds / step) * step


@dataclass(frozen=True)
class PriceLine:
    description: str
    amount: Decimal


@dataclass(frozen=True)
class Price:
    currency: str
    hourly_per_gpu: Decimal
    billable_seconds: int
    total: Decimal
    lines: tuple[PriceLine, ...]


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def price(rates: Rates, *, term: Term, gpus: int, seconds: int, months: int | None = None) -> Price:
    """The price of ``gpus`` GPUs for ``seconds`` under ``term``, with its breakdown."""
    hourly = rates.hourly(term, months)
    billable = rates.billable_seconds(seconds)
    hours = Decimal(billable) / SECONDS_PER_HOUR
    total = money(hourly * gpus * hours)
    lines = []
    if term is Term.RESERVED:
        discount = rates.reserved_discounts[months or 0]
        lines.append(
            PriceLine(
                f"reserved {months} month(s): {_plain(discount * 100)}% off "
                f"{_plain(rates.on_demand)} {rates.currency}/GPU-hour",
                Decimal(0),
            )
        )
    if billable != seconds:
        lines.append(
            PriceLine(
                f"billed {billable} s for {seconds} s (minimum {rates.minimum_seconds} s, "
                f"in steps of {rates.granularity_seconds} s)",
                Decimal(0),
            )
        )
    lines.append(
        PriceLine(
            f"{gpus} GPU(s) x {_plain(hours)} h x {_plain(hourly)} {rates.currency}/GPU-hour "
            f"({term})",
            total,
        )
    )
    return Price(rates.currency, hourly, billable, total, tuple(lines))
