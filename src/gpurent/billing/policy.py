"""Billing settings (``GPURENT_BALANCE_*``, ``GPURENT_BILLING_*``), read when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BillingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GPURENT_", extra="ignore")

    balance_notice_minutes: int = Field(
        default=60,
        ge=0,
        description="Notice when the balance covers less than this much of the running leases.",
    )
    billing_minimum_balance_hours: Decimal = Field(
        default=Decimal(1),
        ge=0,
        le=10_000,
        description="An on-demand or interruptible lease starts only if the balance covers "
        "this many hours of it (at most its window).",
    )
    billing_rating_seconds: int = Field(
        default=120, ge=1, description="How often a running lease gets a ledger entry."
    )
    billing_reserved_cancel_percent: Decimal = Field(
        default=Decimal(25),
        ge=0,
        le=100,
        description="What cancelling a reserved term before its start costs, in percent of "
        "its first period (on-demand and interruptible: free).",
    )
    billing_invoice_prefix: str = Field(
        default="INV", pattern=r"^[A-Z]{2,8}$", description="Invoice numbers: PREFIX-YYYY-NNNNNN."
    )


@dataclass(frozen=True)
class BillingPolicy:
    notice: timedelta = timedelta(minutes=60)
    minimum_balance_hours: Decimal = Decimal(1)
    rating_interval: timedelta = timedelta(minutes=2)
    reserved_cancel_percent: Decimal = Decimal(25)
    invoice_prefix: str = "INV"

    @classmethod
    def from_environment(cls) -> BillingPolicy:
        settings = BillingSettings()
        return cls(
            notice=timedelta(minutes=settings.balance_notice_minutes),
            minimum_balance_hours=settings.billing_minimum_balance_hours,
            rating_interval=timedelta(seconds=settings.billing_rating_seconds),
            reserved_cancel_percent=settings.billing_reserved_cancel_percent,
            invoice_prefix=settings.billing_invoice_prefix,
        )
