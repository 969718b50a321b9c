"""Dossiers, decisions, the review queue and alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text
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
    policy_version: Mapped[str | None] = mapped_column(String(64))
    ownership_method: Mapped[str | None] = mapped_column(
        String(64), comment="how ownership was counted, e.g. cascading-50-v2"
    )
    as_of: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))


class Review(Base):
    """A case for a compliance officer: a held lease, or a dossier change that would
    loosen the customer's standing. Its status moves only through review_states."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(
        String(16), default="lease", server_default="lease", comment="lease or dossier_change"
    )
    lease_id: Mapped[int | None] = mapped_column(ForeignKey("leases.id"), index=True)
    dossier_change_id: Mapped[int | None] = mapped_column(ForeignKey("dossier_changes.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_decisions.id"))
    status: Mapped[str] = mapped_column(
        String(32),
        comment="open, awaiting_second_approval, approved, denied, expired, superseded",
    )
    causes: Mapped[list[str] | None] = mapped_column(JSON, comment="rules that caused it")
    four_eyes: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa.false(), comment="needs two officers"
    )
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    hold_until: Mapped[datetime | None] = mapped_column(
        UtcDateTime, comment="capacity held until (leases only)"
    )
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, comment="decide by (SLA)")
    assignee: Mapped[str | None] = mapped_column(String(200))
    first_approved_by: Mapped[str | None] = mapped_column(String(200))
    first_approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class ReviewEvent(Base):
    """A review's history: every claim, assignment, note, approval and status change."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), comment="opened, claimed, note, approved...")
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class DossierChange(Base):
    """A submitted record that would loosen the standing in force: it waits for a
    compliance officer, and the previous record stays in force meanwhile."""

    __tablename__ = "dossier_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, comment="the submitted record")
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, comment="the record in force")
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(8), comment="of the submitted record")
    standing_before: Mapped[str] = mapped_column(String(8))
    standing_reasons: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, comment="why the standing in force is what the change would lift"
    )
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_by: Mapped[str] = mapped_column(String(200))


class Clearance(Base):
    """A possible match cleared as a false positive for one customer. It holds while the
    list entry's content is what the officer saw (entry_sha256)."""

    __tablename__ = "clearances"
    __table_args__ = (
        # One clearance in force per customer and entry.
        Index(
            "uq_clearances_in_force",
            "organization_id",
            "list_name",
            "entry_id",
            unique=True,
            sqlite_where=sa.text("undone_at IS NULL"),
            postgresql_where=sa.text("undone_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    list_name: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[str] = mapped_column(String(100))
    listed_name: Mapped[str] = mapped_column(Text)
    entry_sha256: Mapped[str] = mapped_column(String(64), comment="the entry as cleared")
    list_version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id"))
    reason: Mapped[str] = mapped_column(Text)
    cleared_by: Mapped[str] = mapped_column(String(200))
    cleared_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    undone_by: Mapped[str | None] = mapped_column(String(200))
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    undo_reason: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
