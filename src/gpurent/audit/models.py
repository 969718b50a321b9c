"""Audit records and the head of their hash chain.

A record is appended inside the transaction that does what it records, without any
lock. Sealing (`audit.service.seal`) later gives unsealed records, in id order, the next
sequence numbers and chains their hashes; the head row holds the last sequence number and
hash, so that removing the newest records is detected too.

Each record and the head carry a keyed MAC (`audit.keys`) computed by the application: a
record that someone wrote into the database directly has none that verifies, and the
sealer refuses to chain it. Records sealed before MACs existed (up to `legacy_through`)
have none and are covered by the chain alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime
from gpurent.timeutil import utcnow


class AuditRecord(Base):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), comment="lease.status, screening, ...")
    subject: Mapped[str] = mapped_column(String(200), comment="what it is about: lease:12")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(unique=True, comment="position in the chain")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64), comment="HMAC of the content")


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    legacy_through: Mapped[int] = mapped_column(
        default=0, server_default="0", comment="the last record sealed without a MAC"
    )
    mac: Mapped[str | None] = mapped_column(String(64), comment="HMAC of the three above")
