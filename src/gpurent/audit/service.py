"""Append audit records, seal them into the chain, verify and export the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from gpurent.audit.models import AuditHead, AuditRecord
from gpurent.db.engine import begin_write
from gpurent.timeutil import as_utc, utcnow

GENESIS = "0" * 64
SEAL_BATCH = 5000


def record(
    session: Session, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> None:
    """Append a record in the caller's transaction (flushes nothing; no lock)."""
    session.add(
        AuditRecord(at=utcnow(), actor=actor, action=action, subject=subject, detail=detail or {})
    )


def record_on(
    connection: Connection,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The same, as a plain INSERT (for paths that bypass the ORM's unit of work)."""
    connection.execute(
        insert(AuditRecord).values(
            at=utcnow(), actor=actor, action=action, subject=subject, detail=detail or {}
        )
    )


def content_hash(prev_hash: str, record: AuditRecord) -> str:
    """The chain link: SHA-256 of the previous hash and the record's canonical content."""
    content = {
        "at": as_utc(record.at).isoformat(),
        "actor": record.actor,
        "action": record.action,
        "subject": record.subject,
        "detail": record.detail,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _head(session: Session) -> AuditHead:
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def seal(session: Session) -> int:
    """Chain every unsealed record, oldest first; returns how many were sealed."""
    session.rollback()
    sealed = 0
    while True:
        begin_write(session)
        head = _head(session)
        batch = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq.is_(None))
                .order_by(AuditRecord.id)
                .limit(SEAL_BATCH)
            )
        )
        for item in batch:
            item.seq = head.last_seq + 1
            item.prev_hash = head.last_hash
            item.hash = content_hash(head.last_hash, item)
            head.last_seq, head.last_hash = item.seq, item.hash
        session.commit()
        sealed += len(batch)
        if len(batch) < SEAL_BATCH:
            return sealed


@dataclass(frozen=True)
class Problem:
    seq: int | None
    record_id: int | None
    what: str


def verify(session: Session) -> tuple[int, list[Problem]]:
    """Walk the chain; returns the number of records checked and every problem found."""
    problems: list[Problem] = []
    expected_seq = 1
    previous = GENESIS
    checked = 0
    records = session.scalars(
        select(AuditRecord).where(AuditRecord.seq.is_not(None)).order_by(AuditRecord.seq)
    )
    for item in records:
        checked += 1
        seq = item.seq or 0
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            problems.append(Problem(expected_seq, None, f"record(s) {missing} deleted"))
        own = content_hash(item.prev_hash or "", item)
        if own != item.hash:
            problems.append(Problem(seq, item.id, "content changed since it was sealed"))
        elif item.prev_hash != previous and seq == expected_seq:
            problems.append(
                Problem(seq, item.id, "out of order: it does not follow the record before it")
            )
        previous = item.hash or ""
        expected_seq = seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and head.last_seq >= expected_seq:
        problems.append(
            Problem(expected_seq, None, f"record(s) {expected_seq}-{head.last_seq} deleted")
        )
    elif head is not None and checked and head.last_hash != previous:
        problems.append(Problem(head.last_seq, None, "the newest record differs from the head"))
    return checked, problems


def export(session: Session) -> Iterator[dict[str, Any]]:
    """Sealed records in chain order, as JSON-ready objects."""
    records = session.scalars(
        select(AuditRecord).where(AuditRecord.seq.is_not(None)).order_by(AuditRecord.seq)
    )
    for item in records:
        yield {
            "seq": item.seq,
            "at": as_utc(item.at).isoformat(),
            "actor": item.actor,
            "action": item.action,
            "subject": item.subject,
            "detail": item.detail,
            "prev_hash": item.prev_hash,
            "hash": item.hash,
        }
