"""Append audit records, seal them into the chain, verify and export the chain."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from gpurent.audit.keys import AuditKey, key_for
from gpurent.audit.models import AuditHead, AuditRecord
from gpurent.db.engine import begin_write
from gpurent.timeutil import as_utc, utcnow

log = logging.getLogger("gpurent.audit")
GENESIS = "0" * 64
CHECKPOINT_INTERVAL = timedelta(minutes=1)
SEAL_BATCH = 500  # records per write transaction: the lock is held briefly


def record(
    session: Session, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> None:
    """Append a record in the caller's transaction (flushes nothing; no lock)."""
    values = record_values(key_for(session.get_bind()), actor, action, subject, detail)
    session.add(AuditRecord(**values))


def record_on(
    connection: Connection,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The same, as a plain INSERT (for paths that bypass the ORM's unit of work)."""
    connection.execute(
        insert(cast(Table, AuditRecord.__table__)).values(
            **record_values(key_for(connection), actor, action, subject, detail)
        )
    )


def record_values(
    key: AuditKey, actor: str, action: str, subject: str, detail: dict[str, Any] | None
) -> dict[str, Any]:
    """The columns of a new record, with its MAC (for INSERTs built elsewhere)."""
    at = utcnow()
    # The detail as the database will give it back (JSON), so that the MAC checks later.
    stored = json.loads(json.dumps(detail or {}, ensure_ascii=False))
    mac = key.mac("record", _canonical(at, actor, action, subject, stored))
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": stored,
        "mac": mac,
    }


def _canonical(at: datetime, actor: str, action: str, subject: str, detail: Any) -> str:
    content = {
        "at": as_utc(at).isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(prev_hash: str, record: AuditRecord) -> str:
    """The chain link: SHA-256 of the previous hash and the record's canonical content."""
    canonical = _canonical(record.at, record.actor, record.action, record.subject, record.detail)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def mac_valid(key: AuditKey, record: AuditRecord) -> bool:
    """Whether the application wrote this record as it stands."""
    canonical = _canonical(record.at, record.actor, record.action, record.subject, record.detail)
    return key.valid("record", canonical, record.mac)


def _head_text(last_seq: int, last_hash: str, legacy_through: int) -> str:
    return f"{last_seq}:{last_hash}:{legacy_through}"


def head_valid(key: AuditKey, head: AuditHead) -> bool:
    """A head without a MAC is valid only as migration 0010 left it (nothing sealed since)."""
    if head.mac is None:
        return head.last_seq == head.legacy_through
    return key.valid(
        "head", _head_text(head.last_seq, head.last_hash, head.legacy_through), head.mac
    )


def _head(session: Session) -> AuditHead:
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS, legacy_through=0)
        session.add(head)
        session.flush()
    return head


def seal(session: Session) -> int:
    """Chain every unsealed record whose MAC is right, oldest first; returns how many were
    sealed. A record with a wrong or missing MAC was not written by gpurent: it is left
    out of the chain (verify names it), and sealing goes on with the others."""
    key = key_for(session.get_bind())
    session.rollback()
    sealed = 0
    after = 0
    while True:
        begin_write(session)
        head = _head(session)
        if not head_valid(key, head):
            # Chaining onto a forged head would bless it: records wait, verify names it.
            session.rollback()
            log.error("the audit head row's MAC is wrong: nothing sealed; see audit verify")
            return sealed
        batch = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq.is_(None), AuditRecord.id > after)
                .order_by(AuditRecord.id)
                .limit(SEAL_BATCH)
            )
        )
        for item in batch:
            if not mac_valid(key, item):
                log.warning("audit record id %s has a wrong MAC: not sealed", item.id)
                continue
            item.seq = head.last_seq + 1
            item.prev_hash = head.last_hash
            item.hash = content_hash(head.last_hash, item)
            head.last_seq, head.last_hash = item.seq, item.hash
            sealed += 1
        head.mac = key.mac("head", _head_text(head.last_seq, head.last_hash, head.legacy_through))
        session.commit()
        if len(batch) < SEAL_BATCH:
            return sealed
        after = batch[-1].id


@dataclass(frozen=True)
class Problem:
    seq: int | None
    record_id: int | None
    what: str


def verify(session: Session) -> tuple[int, list[Problem]]:
    """Walk the chain; returns the number of records checked and every problem found:
    records deleted, changed, reordered or forged (MAC), a forged head, unsealed records
    that gpurent did not write, and a chain shorter than or different from the checkpoint."""
    key = key_for(session.get_bind())
    head = session.get(AuditHead, 1)
    legacy_through = head.legacy_through if head is not None else 0
    problems: list[Problem] = []
    expected_seq = 1
    previous = GENESIS
    checked = 0
    hashes: dict[int, str] = {}
    checkpoint, checkpoint_problem = read_checkpoint(key)
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
        elif not mac_valid(key, item) and not (item.mac is None and seq <= legacy_through):
            # The chain was recomputed around it: only the key tells.
            problems.append(
                Problem(seq, item.id, "forged: its MAC is wrong (not written by gpurent)")
            )
        elif item.prev_hash != previous and seq == expected_seq:
            problems.append(
                Problem(seq, item.id, "out of order: it does not follow the record before it")
            )
        if checkpoint is not None and seq == checkpoint.seq:
            hashes[seq] = item.hash or ""
        previous = item.hash or ""
        expected_seq = seq + 1
    if head is not None and head.last_seq >= expected_seq:
        problems.append(
            Problem(expected_seq, None, f"record(s) {expected_seq}-{head.last_seq} deleted")
        )
    elif head is not None and checked and head.last_hash != previous:
        problems.append(Problem(head.last_seq, None, "the newest record differs from the head"))
    if head is not None and not head_valid(key, head):
        problems.append(Problem(head.last_seq, None, "the head row was altered: its MAC is wrong"))
    problems += _unsealed_forgeries(session, key)
    if checkpoint_problem:
        problems.append(Problem(None, None, checkpoint_problem))
    if checkpoint is not None:
        problems += _against_checkpoint(checkpoint, expected_seq - 1, hashes, legacy_through)
    return checked, problems


def _unsealed_forgeries(session: Session, key: AuditKey) -> list[Problem]:
    """Records waiting outside the chain because their MAC is wrong (seal skipped them)."""
    waiting = session.scalars(
        select(AuditRecord).where(AuditRecord.seq.is_(None)).order_by(AuditRecord.id)
    )
    return [
        Problem(None, item.id, "forged: not sealed, its MAC is wrong (not written by gpurent)")
        for item in waiting
        if not mac_valid(key, item)
    ]


def _against_checkpoint(
    checkpoint: Checkpoint, last_seq: int, hashes: dict[int, str], legacy_through: int
) -> list[Problem]:
    where = f"the checkpoint of {checkpoint.at} (record {checkpoint.seq})"
    if checkpoint.seq > last_seq:
        return [
            Problem(
                checkpoint.seq,
                None,
                f"the chain ends at record {last_seq}, before {where}: records deleted",
            )
        ]
    if checkpoint.seq and hashes.get(checkpoint.seq) != checkpoint.hash:
        return [Problem(checkpoint.seq, None, f"the chain differs from {where}: rewritten")]
    if checkpoint.legacy_through != legacy_through:
        return [Problem(None, None, f"the head's records without MACs differ from {where}")]
    return []


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain stood, kept outside the database (and MACed)."""

    seq: int
    hash: str
    legacy_through: int
    at: str

    def text(self) -> str:
        return f"{self.seq}:{self.hash}:{self.legacy_through}:{self.at}"


def read_checkpoint(key: AuditKey) -> tuple[Checkpoint | None, str | None]:
    """The last checkpoint, or None; and what is wrong with the file, if anything."""
    path = key.checkpoint_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(
            int(data["seq"]), str(data["hash"]), int(data["legacy_through"]), str(data["at"])
        )
        mac = str(data["mac"])
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"the checkpoint {path} is unreadable: {exc}"
    if not key.valid("checkpoint", checkpoint.text(), mac):
        return None, f"the checkpoint {path} was altered: its MAC is wrong"
    return checkpoint, None


def write_checkpoint(session: Session, now: datetime | None = None) -> Checkpoint | None:
    """Write where the chain stands to the checkpoint file (after sealing). Returns None and
    writes nothing when the chain no longer agrees with the last checkpoint, so that the
    evidence stays for verify."""
    key = key_for(session.get_bind())
    session.rollback()
    head = session.get(AuditHead, 1)
    seq, last_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS)
    legacy_through = head.legacy_through if head else 0
    if head is not None and not head_valid(key, head):
        log.error("the audit head row's MAC is wrong: no checkpoint written")
        return None
    previous, problem = read_checkpoint(key)
    if problem is None and previous is not None:
        at_previous = session.scalar(
            select(AuditRecord.hash).where(AuditRecord.seq == previous.seq)
        )
        hashes = {previous.seq: at_previous} if at_previous else {}
        if _against_checkpoint(previous, seq, hashes, legacy_through):
            log.error("the audit chain disagrees with its checkpoint: no checkpoint written")
            return None
    session.rollback()
    when = as_utc(now or utcnow()).isoformat()
    checkpoint = Checkpoint(seq, last_hash, legacy_through, when)
    payload = asdict(checkpoint) | {"mac": key.mac("checkpoint", checkpoint.text())}
    _write_atomically(key.checkpoint_path, json.dumps(payload, indent=2) + "\n")
    return checkpoint


def _write_atomically(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(aside, path)


class Checkpoints:
    """The worker's checkpoints: one at least every `interval` (and at start)."""

    def __init__(self, interval: timedelta = CHECKPOINT_INTERVAL) -> None:
        self._interval = interval
        self._last: datetime | None = None

    def write_if_due(self, session: Session, now: datetime) -> Checkpoint | None:
        if self._last is not None and now - self._last < self._interval:
            return None
        self._last = now
        return write_checkpoint(session, now)


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
