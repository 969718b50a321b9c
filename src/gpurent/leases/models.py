"""Lease tables. No two live allocations of one GPU overlap: on PostgreSQL an exclusion
constraint says so (created in migration 0002, since it is PostgreSQL-only); on SQLite
every booking runs in a serialized write transaction (``db.engine.begin_write``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gpurent.catalog.models import GpuModel
from gpurent.db.base import Base, UtcDateTime, enum_values
from gpurent.fleet.models import Facility, Gpu
from gpurent.leases.states import LeaseStatus
from gpurent.offers.models import MONEY
from gpurent.offers.terms import Term
from gpurent.timeutil import utcnow


class Lease(Base):
    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gpu_model_id: Mapped[int] = mapped_column(ForeignKey("gpu_models.id"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), index=True, comment="the customer; NULL before accounts"
    )
    gpus: Mapped[int]
    term: Mapped[Term] = mapped_column(
        Enum(Term, native_enum=False, length=16, values_callable=enum_values)
    )
    months: Mapped[int | None] = mapped_column(comment="reserved term length")
    open_ended: Mapped[bool] = mapped_column(default=False, comment="ends_at is the maximum")
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[LeaseStatus] = mapped_column(
        Enum(LeaseStatus, native_enum=False, length=16, values_callable=enum_values)
    )
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    flag: Mapped[str | None] = mapped_column(String(500), comment="needs an operator's look")
    before_end_notified: Mapped[bool] = mapped_column(default=False)
    preempted_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, comment="when an interruptible lease was told to yield; ends as preempted"
    )
    # the price, fixed when booked
    currency: Mapped[str] = mapped_column(String(3))
    hourly_rate: Mapped[Decimal] = mapped_column(MONEY, comment="per GPU-hour, after discount")
    granularity_seconds: Mapped[int]
    minimum_seconds: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    gpu_model: Mapped[GpuModel] = relationship()
    facility: Mapped[Facility] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="lease", order_by="Allocation.gpu_id"
    )


class Allocation(Base):
    """One GPU held by one lease for a time range [starts_at, ends_at)."""

    __tablename__ = "allocations"
    __table_args__ = (
        Index("ix_allocations_gpu_id_starts_at", "gpu_id", "starts_at"),
        Index("ix_allocations_updated_at", "updated_at"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), index=True)
    gpu_id: Mapped[int] = mapped_column(ForeignKey("gpus.id"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # False once the lease no longer holds the GPU (cancelled before use, moved, rejected)
    live: Mapped[bool] = mapped_column(default=True)
    preemptible: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    lease: Mapped[Lease] = relationship(back_populates="allocations")
    gpu: Mapped[Gpu] = relationship()


class LeaseEvent(Base):
    """Something that happened to a lease: a status change, an extension, a notice."""

    __tablename__ = "lease_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    actor: Mapped[str] = mapped_column(String(128))
