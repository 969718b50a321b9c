"""Dossiers, decisions, the review queue and alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime
from gpurent.timeutil import utcnow


class DossierRecord(Base):
    """A customer's identification record, as last submitted (history: the audit log)."""

    __tablename__ = "dossiers"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class Standing(Base):
    """A customer's latest screening outcome, independent of any request."""

    __tablename__ = "standings"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(8), comment="allow, review or deny")
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    screened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DecisionRecord(Base):
    __tablename__ = "compliance_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), comment="lease.create, lease.extend, check...")
    subject: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    policy: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    lease_id: Mapped[int | None] = mapped_column(ForeignKey("leases.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_decisions.id"))
    status: Mapped[str] = mapped_column(String(16), comment="open, approved, denied, expired")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    hold_until: Mapped[datetime] = mapped_column(UtcDateTime, comment="capacity held until")
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
