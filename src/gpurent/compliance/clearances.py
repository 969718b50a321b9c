"""Possible matches cleared as false positives, one customer and one list entry at a time.

A clearance holds while the entry reads as it did when the officer cleared it: the
entry's content digest is kept, and a later list version that changes the entry makes
the pair fire again. Only possible matches (below the match threshold) can be cleared;
a match is a listed party and stays the policy's business.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.compliance.models import Clearance
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.lists.models import ListEntryRow, ListVersion
from gpurent.screening import ListEntry, Match
from gpurent.screening.entries import entry_from_dict, entry_to_dict
from gpurent.timeutil import utcnow

ClearedTest = Callable[[Match], bool]


def entry_digest(entry: ListEntry) -> str:
    """The entry's content, as a digest that changes when any of its facts change."""
    text = json.dumps(entry_to_dict(entry), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def nothing_cleared(match: Match) -> bool:
    return False


def cleared_test(session: Session, organization_id: int | None) -> ClearedTest:
    """What screening of this customer should leave out: possible matches of entries
    cleared for it whose content has not changed since."""
    if organization_id is None:
        return nothing_cleared
    pairs = {(c.list_name, c.entry_id): c.entry_sha256 for c in in_force(session, organization_id)}
    if not pairs:
        return nothing_cleared

    def cleared(match: Match) -> bool:
        digest = pairs.get((match.entry.list_name, match.entry.entry_id))
        return digest is not None and not match.is_match and entry_digest(match.entry) == digest

    return cleared


def in_force(session: Session, organization_id: int) -> list[Clearance]:
    return list(
        session.scalars(
            select(Clearance)
            .where(Clearance.organization_id == organization_id, Clearance.undone_at.is_(None))
            .order_by(Clearance.id)
        )
    )


def history(session: Session, organization_id: int) -> list[Clearance]:
    """Every clearance of the customer, undone ones too."""
    return list(
        session.scalars(
            select(Clearance)
            .where(Clearance.organization_id == organization_id)
            .order_by(Clearance.id)
        )
    )


def entry_in_force(
    session: Session, entry_id: str, list_name: str | None = None
) -> tuple[ListEntry, int]:
    """The entry as the list versions in force have it, and its version's id."""
    statement = (
        select(ListEntryRow.data, ListEntryRow.version_id)
        .join(ListVersion, ListVersion.id == ListEntryRow.version_id)
        .where(ListVersion.superseded_at.is_(None), ListEntryRow.entry_id == entry_id)
    )
    if list_name is not None:
        statement = statement.where(ListEntryRow.list_name == list_name)
    rows = session.execute(statement).all()
    if not rows:
        raise NotFoundError(f"no list entry {entry_id} in the lists in force", fields=["entry"])
    if len(rows) > 1:
        lists = ", ".join(sorted({str(r.data["list_name"]) for r in rows}))
        raise InvalidInputError(
            f"entry {entry_id} is on several lists ({lists}): name the list", fields=["list"]
        )
    return entry_from_dict(rows[0].data), rows[0].version_id


def clear(
    session: Session,
    organization_id: int,
    entry: ListEntry,
    version_id: int,
    *,
    reason: str,
    actor: str,
) -> Clearance:
    """Record the clearance; commits. The caller checked that it is a possible match."""
    if not reason.strip():
        raise InvalidInputError("a clearance needs a written reason", fields=["reason"])
    session.rollback()
    begin_write(session)
    try:
        for existing in in_force(session, organization_id):
            if (existing.list_name, existing.entry_id) == (entry.list_name, entry.entry_id):
                raise ConflictError(
                    f"entry {entry.entry_id} is already cleared for this customer "
                    f"(clearance {existing.id})"
                )
        clearance = Clearance(
            organization_id=organization_id,
            list_name=entry.list_name,
            entry_id=entry.entry_id,
            listed_name=entry.name,
            entry_sha256=entry_digest(entry),
            list_version_id=version_id,
            reason=reason,
            cleared_by=actor,
            cleared_at=utcnow(),
        )
        session.add(clearance)
        session.flush()
        audit.record(
            session,
            actor,
            "clearance.create",
            f"organization:{organization_id}",
            {
                "clearance_id": clearance.id,
                "list": entry.list_name,
                "entry_id": entry.entry_id,
                "listed_name": entry.name,
                "entry_sha256": clearance.entry_sha256,
                "list_version_id": version_id,
                "reason": reason,
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return clearance


def undo(
    session: Session, organization_id: int, clearance_id: int, *, reason: str, actor: str
) -> Clearance:
    """Withdraw a clearance (the pair fires again); commits."""
    if not reason.strip():
        raise InvalidInputError("undoing a clearance needs a written reason", fields=["reason"])
    session.rollback()
    begin_write(session)
    try:
        clearance = session.get(Clearance, clearance_id)
        if clearance is None or clearance.organization_id != organization_id:
            raise NotFoundError(f"no clearance {clearance_id} for this customer")
        if clearance.undone_at is not None:
            raise ConflictError(
                f"clearance {clearance_id} was already undone by {clearance.undone_by}"
            )
        clearance.undone_by, clearance.undone_at, clearance.undo_reason = actor, utcnow(), reason
        audit.record(
            session,
            actor,
            "clearance.undo",
            f"organization:{organization_id}",
            {
                "clearance_id": clearance.id,
                "list": clearance.list_name,
                "entry_id": clearance.entry_id,
                "cleared_by": clearance.cleared_by,
                "reason": reason,
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return clearance
