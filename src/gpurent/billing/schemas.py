"""Billing shapes in and out. Money is Decimal (JSON strings keep every digit)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=4, allow_inf_nan=False)]
PositiveMoney = Annotated[
    Decimal, Field(gt=0, max_digits=14, decimal_places=4, allow_inf_nan=False)
]
Month = Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2026-12"])]


class BalanceOut(BaseModel):
    organization_id: int
    currency: str
    balance: Decimal
    credit_limit: Decimal
    available: Decimal = Field(description="balance plus credit line")
    prepaid: bool = Field(description="false: invoiced in arrears, no balance check")
    burn_per_hour: Decimal = Field(description="the running on-demand and interruptible leases")
    runs_out_at: datetime | None = Field(description="when the balance runs out at this burn")
    month_to_date: Decimal
    monthly_cap: Decimal | None
    alerts: list[BillingEventOut]


class BillingEventOut(BaseModel):
    at: datetime
    kind: str
    detail: str


class LedgerEntryOut(BaseModel):
    id: int
    at: datetime
    kind: str
    amount: Decimal
    currency: str
    month: str
    lease_id: int | None
    period_start: datetime | None
    period_end: datetime | None
    gpu_event_id: int | None
    invoice_id: int | None
    reverses_id: int | None
    gpu_hours: Decimal | None
    rate: Decimal | None
    description: str
    actor: str


class MoneyIn(BaseModel):
    """A top-up, a grant, a credit or an adjustment recorded by the operator. ``reference``
    (a payment id, a ticket) makes a retry count once."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["top_up", "grant", "credit", "adjustment"] = "credit"
    amount: Money
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    reference: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    description: str = Field(default="", max_length=400)


class AccountIn(BaseModel):
    """How an organization pays; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    prepaid: bool | None = None
    credit_limit: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] | None = None
    monthly_cap: PositiveMoney | None = None
    hard_cap: bool | None = None
    user: str | None = Field(
        default=None, min_length=1, max_length=200, description="a cap for this user only"
    )


class AccountOut(BaseModel):
    organization_id: int
    currency: str
    prepaid: bool
    credit_limit: Decimal
    monthly_cap: Decimal | None
    hard_cap: bool


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str = Field(min_length=1, max_length=200, description="name or id")
    month: Month


class InvoiceStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["paid", "void"]
    reason: str = Field(default="", max_length=400)


class CreditNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveMoney
    reason: str = Field(min_length=1, max_length=400)


class InvoiceOut(BaseModel):
    id: int | None = Field(description="null for a draft")
    number: str | None
    kind: str
    status: str
    organization_id: int
    month: str
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    issued_at: datetime | None
    corrects_id: int | None = None
    document: dict[str, Any] = Field(description="the snapshot: customer, lines, tax, totals")
