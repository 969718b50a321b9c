"""Offer shapes: rate cards in fleet files, offers and quotes in the API."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gpurent.bounds import Count, Hours, Moment, Months
from gpurent.offers.terms import Term


class RateCardEntry(BaseModel):
    """A rate card as written in a fleet file."""

    model_config = ConfigDict(extra="forbid")

    gpu_model: str = Field(min_length=1)
    facility: str | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    on_demand: Decimal = Field(gt=0, description="price of one GPU-hour on demand")
    interruptible: Decimal | None = Field(default=None, gt=0)
    reserved: dict[int, Decimal] = Field(
        default_factory=dict, description="months -> discount off on-demand, e.g. {3: 0.2}"
    )
    granularity_seconds: int = Field(default=1, ge=1, le=3600)
    minimum_seconds: int = Field(default=60, ge=0, le=86400)

    @field_validator("reserved")
    @classmethod
    def _discounts(cls, reserved: dict[int, Decimal]) -> dict[int, Decimal]:
        for months, discount in reserved.items():
            if not 1 <= months <= 60:
                raise ValueError(f"reserved term of {months} months: must be 1 to 60")
            if not 0 <= discount < 1:
                raise ValueError(f"discount for {months} months must be in [0, 1)")
        return reserved


class OfferOut(BaseModel):
    gpu_model: str
    facility: str | None
    currency: str
    on_demand_hourly: Decimal
    interruptible_hourly: Decimal | None
    reserved: dict[int, Decimal] = Field(description="months -> price of one GPU-hour")
    granularity_seconds: int
    minimum_seconds: int
    classification: str


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpu_model: str = Field(min_length=1, max_length=200)
    gpus: Count
    hours: Hours | None = Field(default=None, description="not needed for reserved")
    term: Term = Term.ON_DEMAND
    months: Months | None = Field(default=None, description="reserved term length")
    facility: str | None = Field(default=None, max_length=200)
    start: Moment | None = Field(default=None, description="for reserved terms; default now")


class QuoteLine(BaseModel):
    description: str
    amount: Decimal


class QuoteOut(BaseModel):
    gpu_model: str
    gpus: int
    term: Term
    months: int | None
    facility: str | None
    seconds: int
    billable_seconds: int
    currency: str
    hourly_per_gpu: Decimal
    total: Decimal
    lines: list[QuoteLine]
