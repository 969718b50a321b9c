"""Lease shapes in and out of the API and CLI."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from gpurent.bounds import MAX_GPUS, Count, CountryCode, Hours, Moment, Months
from gpurent.config import Settings
from gpurent.leases.states import LeaseStatus
from gpurent.offers.terms import Term


class LeaseRequest(BaseModel):
    """A booking: N GPUs of a model for a window (no ``start`` means now)."""

    model_config = ConfigDict(extra="forbid")

    gpu_model: str = Field(min_length=1, max_length=200)
    gpus: Count
    start: Moment | None = Field(default=None, description="default: now")
    end: Moment | None = Field(
        default=None,
        description="on_demand/interruptible without end: open-ended, until released, at "
        "most the configured maximum; reserved: start + months",
    )
    hours: Hours | None = Field(
        default=None, description="instead of end; at most GPURENT_LEASE_MAX_HOURS"
    )
    term: Term = Term.ON_DEMAND
    months: Months | None = Field(default=None, description="at most GPURENT_LEASE_MAX_MONTHS")
    facility: str | None = Field(default=None, max_length=200)
    country: CountryCode | None = None


class EndChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end: Moment | None = None
    hours: Hours | None = Field(default=None, description="move the end by this much")


class LeasePrice(BaseModel):
    currency: str
    hourly_per_gpu: Decimal
    billable_seconds: int
    total: Decimal = Field(description="for the lease's current window (until now if ended)")


class LeaseOut(BaseModel):
    id: int
    organization_id: int | None = Field(default=None, description="whose lease it is")
    status: LeaseStatus
    gpu_model: str
    gpus: int
    term: Term
    months: int | None
    open_ended: bool
    facility: str
    country: str
    start: datetime
    end: datetime
    gpu_ids: list[int]
    gpu_addresses: list[str]
    flag: str | None
    price: LeasePrice
    cost_to_date: Decimal | None = Field(default=None, description="charged so far (ledger)")
    created_at: datetime


class LeaseEventOut(BaseModel):
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    detail: str
    actor: str


class WindowOut(BaseModel):
    start: datetime
    end: datetime
    facility: str
    country: str
    gpu_ids: list[int]
    gpu_addresses: list[str]
    preempts_interruptible: int = Field(description="GPUs that interruptible leases would yield")
    quote: LeasePrice | None


class BusyInterval(BaseModel):
    lease_id: int
    start: datetime
    end: datetime
    status: LeaseStatus
    interruptible: bool


class GpuCalendar(BaseModel):
    gpu_id: int
    address: str
    busy: list[BusyInterval]


class NodeCalendar(BaseModel):
    node: str
    facility: str
    gpus: list[GpuCalendar]


class LimitsOut(BaseModel):
    """What the server allows (GPURENT_LEASE_*, GPURENT_MAX_BODY_BYTES)."""

    lease_max_hours: int
    lease_min_minutes: int
    lease_max_months: int
    lease_max_open_hours: int
    lease_max_advance_days: int
    lease_max_gpus: int
    max_body_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> LimitsOut:
        return cls(
            lease_max_hours=settings.lease_max_hours,
            lease_min_minutes=settings.lease_min_minutes,
            lease_max_months=settings.lease_max_months,
            lease_max_open_hours=settings.lease_max_open_hours,
            lease_max_advance_days=settings.lease_max_advance_days,
            lease_max_gpus=MAX_GPUS,
            max_body_bytes=settings.max_body_bytes,
        )
