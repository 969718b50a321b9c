"""Lease terms: how a renter commits, which decides the price and who yields to whom."""

from __future__ import annotations

from enum import StrEnum


class Term(StrEnum):
    ON_DEMAND = "on_demand"  # until released (with a maximum) or for a window
    RESERVED = "reserved"  # a whole number of months, at a discount
    INTERRUPTIBLE = "interruptible"  # idle capacity, cheaper, preempted when needed

    @property
    def preemptible(self) -> bool:
        return self is Term.INTERRUPTIBLE
