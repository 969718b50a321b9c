"""Imported list versions. A version never changes; importing makes a new one current."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gpurent.db.base import Base, UtcDateTime
from gpurent.timeutil import utcnow


class ListVersion(Base):
    __tablename__ = "list_versions"
    __table_args__ = (
        # At most one version of a list is in force.
        Index(
            "uq_list_versions_current",
            "dataset",
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), comment="ofac-sdn, ofac-cons, csl, ...")
    title: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(32))
    files: Mapped[list[str]] = mapped_column(JSON, comment="file names as imported")
    sha256: Mapped[str] = mapped_column(String(64), comment="of the files' bytes, in order")
    published: Mapped[str | None] = mapped_column(String(32))
    entry_count: Mapped[int]
    link_count: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(200))
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ListEntryRow(Base):
    __tablename__ = "list_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id"), index=True)
    list_name: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ListLinkRow(Base):
    """An ownership link a list itself records (OFAC advanced XML)."""

    __tablename__ = "list_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id"), index=True)
    owned_id: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(100))
