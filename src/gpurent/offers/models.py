"""Rate cards: the price list of a GPU model, everywhere or in one facility."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gpurent.catalog.models import GpuModel
from gpurent.db.base import Base, UtcDateTime
from gpurent.fleet.models import Facility
from gpurent.timeutil import utcnow

MONEY = Numeric(14, 4)


class RateCard(Base):
    __tablename__ = "rate_cards"
    __table_args__ = (UniqueConstraint("gpu_model_id", "facility_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gpu_model_id: Mapped[int] = mapped_column(ForeignKey("gpu_models.id"))
    # NULL: the model's price in every facility without a card of its own
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    on_demand_hourly: Mapped[Decimal] = mapped_column(MONEY, comment="per GPU-hour")
    interruptible_hourly: Mapped[Decimal | None] = mapped_column(MONEY)
    # months (as text keys) -> discount fraction as a decimal string, e.g. {"3": "0.20"}
    reserved_discounts: Mapped[dict[str, str]] = mapped_column(JSON)
    granularity_seconds: Mapped[int] = mapped_column(default=1)
    minimum_seconds: Mapped[int] = mapped_column(default=60)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    gpu_model: Mapped[GpuModel] = relationship()
    facility: Mapped[Facility | None] = relationship()
