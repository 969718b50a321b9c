"""Appending to the ledger (deduplicated by key, each money entry audited) and reading sums."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from gpurent.audit.keys import key_for
from gpurent.audit.models import AuditRecord
from gpurent.audit.service import record_values
from gpurent.billing.models import EntryKind, LedgerEntry
from gpurent.billing.rating import month_of

_COLUMNS = (
    "organization_id", "kind", "amount", "currency", "month", "key", "lease_id",
    "period_start", "period_end", "gpu_event_id", "invoice_id", "reverses_id", "gpu_hours",
    "rate", "description", "actor", "at",
)  # fmt: skip


def entry(
    *,
    organization_id: int,
    kind: EntryKind,
    amount: Decimal,
    currency: str,
    key: str,
    actor: str,
    at: datetime,
    month: str | None = None,
    **references: Any,
) -> dict[str, Any]:
    """The values of one new entry; ``references``: lease_id, period_start, ... ."""
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    values.update(
        organization_id=organization_id,
        kind=kind.value,
        amount=amount,
        currency=currency,
        key=key,
        actor=actor,
        at=at,
        month=month or month_of(references.get("period_start") or at),
        description="",
    )
    unknown = set(references) - set(_COLUMNS)
    if unknown:
        raise TypeError(f"not a ledger column: {', '.join(sorted(unknown))}")
    values.update(references)
    return values


def append(session: Session, entries: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the entries whose key is new (in the caller's transaction; one statement for
    all of them) and an audit record for each; returns the ids inserted. An entry whose key
    exists already is skipped: rating twice, or by two workers, adds nothing."""
    if not entries:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = _insert_unnest(connection, entries)
    else:
        statement = (
            sqlite.insert(LedgerEntry)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(LedgerEntry.id, LedgerEntry.key)
        )
        rows = [(r[0], r[1]) for r in connection.execute(statement, list(entries))]
    inserted = {key: entry_id for entry_id, key in rows}
    key = key_for(connection)
    audits = [
        record_values(
            key,
            values["actor"],
            "ledger.append",
            f"ledger:{inserted[values['key']]}",
            {
                "organization_id": values["organization_id"],
                "kind": values["kind"],
                "amount": str(values["amount"]),
                "currency": values["currency"],
                "key": values["key"],
            },
        )
        for values in entries
        if values["key"] in inserted
    ]
    if audits and connection.dialect.name == "postgresql":
        _audit_copy(connection, audits)
    elif audits:
        connection.execute(insert(AuditRecord), audits)
    return sorted(inserted.values())


_PG_TYPES = {
    "organization_id": "integer", "kind": "varchar", "amount": "numeric", "currency": "varchar",
    "month": "varchar", "key": "varchar", "lease_id": "integer", "period_start": "timestamptz",
    "period_end": "timestamptz", "gpu_event_id": "integer", "invoice_id": "integer",
    "reverses_id": "integer", "gpu_hours": "numeric", "rate": "numeric",
    "description": "varchar", "actor": "varchar", "at": "timestamptz",
}  # fmt: skip


def _insert_unnest(
    connection: Connection, entries: Sequence[dict[str, Any]]
) -> list[tuple[int, str]]:
    """PostgreSQL: every entry in one INSERT ... SELECT FROM unnest(one array per column),
    a statement whose size does not grow with the number of rows."""
    arrays = ", ".join(f"CAST(:{c} AS {_PG_TYPES[c]}[])" for c in _COLUMNS)
    names = ", ".join(_COLUMNS)
    statement = text(
        f"INSERT INTO ledger_entries ({names}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (key) DO NOTHING RETURNING id, key"
    )
    params = {c: [_utc(e[c]) for e in entries] for c in _COLUMNS}
    return [(r[0], r[1]) for r in connection.execute(statement, params)]


def _audit_copy(connection: Connection, audits: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: the audit records by COPY (they have no conflicts to skip), in the
    transaction of the entries they record."""
    raw: Any = connection.connection.driver_connection
    columns = "at, actor, action, subject, detail, mac"
    with raw.cursor() as cursor, cursor.copy(f"COPY audit_records ({columns}) FROM STDIN") as copy:
        for a in audits:
            detail = json.dumps(a["detail"], ensure_ascii=False)
            copy.write_row((a["at"], a["actor"], a["action"], a["subject"], detail, a["mac"]))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        return value.astimezone(UTC)
    return value


def balance(session: Session, organization_id: int) -> Decimal:
    total = session.scalar(
        select(func.sum(LedgerEntry.amount)).where(LedgerEntry.organization_id == organization_id)
    )
    return Decimal(total or 0)


def lease_totals(session: Session, lease_ids: Sequence[int]) -> dict[int, Decimal]:
    """What each lease has been charged so far, net of corrections (positive)."""
    if not lease_ids:
        return {}
    rows = session.execute(
        select(LedgerEntry.lease_id, func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.lease_id.in_(lease_ids),
            LedgerEntry.kind.in_((EntryKind.CHARGE, EntryKind.ADJUSTMENT)),
            LedgerEntry.gpu_event_id.is_(None),
        )
        .group_by(LedgerEntry.lease_id)
    )
    return {lease_id: -Decimal(total or 0) for lease_id, total in rows if lease_id is not None}


def entries_query(
    organization_id: int | None,
    *,
    lease_id: int | None = None,
    month: str | None = None,
    kind: str | None = None,
) -> Select[LedgerEntry]:
    statement = select(LedgerEntry)
    if organization_id is not None:
        statement = statement.where(LedgerEntry.organization_id == organization_id)
    if lease_id is not None:
        statement = statement.where(LedgerEntry.lease_id == lease_id)
    if month is not None:
        statement = statement.where(LedgerEntry.month == month)
    if kind is not None:
        statement = statement.where(LedgerEntry.kind == kind)
    return statement
