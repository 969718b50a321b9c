"""Catalog tables: one row per GPU model, built-in or added by the operator."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime
from gpurent.timeutil import utcnow

SOURCE_BUILTIN = "builtin"
SOURCE_FLEET = "fleet"


class GpuModel(Base):
    """Specs only: TPP, density and class are computed, never stored."""

    __tablename__ = "gpu_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    vendor: Mapped[str] = mapped_column(String(64))
    memory_gb: Mapped[int]
    die_area_mm2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    die_area_estimated: Mapped[bool] = mapped_column(default=False)
    data_center: Mapped[bool]
    # precision -> dense TFLOPS/TOPS, as decimal strings so no float creeps in
    dense_rates: Mapped[dict[str, str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
