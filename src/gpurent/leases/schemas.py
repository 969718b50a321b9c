"""Lease shapes in and out of the API and CLI."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gpurent.leases.states import LeaseStatus
from gpurent.offers.terms import Term


class LeaseRequest(BaseModel):
    """A booking: N GPUs of a model for a window (no ``start`` means now)."""

    model_config = ConfigDict(extra="forbid")

    gpu_model: str
    gpus: int = Field(ge=1, le=4096)
    start: AwareDatetime | None = Field(default=None, description="default: now")
    end: AwareDatetime | None = Field(
        default=None,
        description="on_demand/interruptible without end: open-ended, until released, at "
        "most the configured maximum; reserved: start + months",
    )
    hours: Decimal | None = Field(default=None, gt=0, description="instead of end")
    term: Term = Term.ON_DEMAND
    months: int | None = Field(default=None, ge=1, le=60)
    facility: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)


class EndChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end: AwareDatetime | None = None
    hours: Decimal | None = Field(default=None, description="move the end by this much")


class LeasePrice(BaseModel):
    currency: str
    hourly_per_gpu: Decimal
    billable_seconds: int
    total: Decimal = Field(description="for the lease's current window (until now if ended)")


class LeaseOut(BaseModel):
    id: int
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
