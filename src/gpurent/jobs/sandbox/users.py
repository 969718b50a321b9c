"""Which Unix user a lease's jobs run as: one uid per lease from the configured range, never
one that belongs to an account of the host, still has processes, or serves another lease."""

from __future__ import annotations

import grp
import pwd
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError
from gpurent.jobs.models import JobSandbox
from gpurent.jobs.sandbox.processes import pids_of_user


def parse_range(text: str) -> range:
    low, high = (int(part) for part in text.split("-", 1))
    return range(low, high + 1)


def _has_account(uid: int) -> bool:
    """Whether the number is a user or a group of the host (the job's gid is its uid)."""
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
        except KeyError:
            continue
        return True
    return False


def subordinate_ranges(files: tuple[str, ...] = ("/etc/subuid", "/etc/subgid")) -> list[range]:
    """Ids that host users may map into user namespaces (rootless containers): a job user
    among them could be impersonated by that host user."""
    found = []
    for name in files:
        try:
            lines = Path(name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                start = int(parts[1])
                found.append(range(start, start + int(parts[2])))
    return found


def usable_uids(uids: range) -> list[int]:
    """The range less host accounts, host groups and subordinate ids (worked out before any
    transaction: name-service lookups can be slow)."""
    taken = subordinate_ranges()
    return [u for u in uids if not _has_account(u) and not any(u in r for r in taken)]


def user_of(session: Session, lease_id: int) -> int | None:
    row = session.get(JobSandbox, lease_id)
    return None if row is None or row.released_at is not None else row.uid


def assign(
    session: Session,
    lease_id: int,
    uids: range,
    busy: Callable[[int], bool] = lambda uid: bool(pids_of_user(uid)),
) -> int:
    """The lease's uid, assigned on first use. Prefers a uid never used, then the one
    released longest ago."""
    candidates = usable_uids(uids)
    for _ in range(3):  # another worker may take the same uid at the same moment
        begin_write(session)
        row = session.get(JobSandbox, lease_id)
        if row is not None:
            session.commit()
            if row.released_at is not None:
                raise ConflictError(f"lease {lease_id} is over: its jobs can no longer run")
            return row.uid
        in_use = set(
            session.scalars(select(JobSandbox.uid).where(JobSandbox.released_at.is_(None)))
        )
        last_release = dict(
            session.execute(
                select(JobSandbox.uid, func.max(JobSandbox.released_at)).group_by(JobSandbox.uid)
            ).all()
        )
        free = [u for u in candidates if u not in in_use]
        free.sort(key=lambda u: (u in last_release, last_release.get(u) or datetime.min))
        session.commit()  # no lock while /proc is scanned
        uid = next((u for u in free if not busy(u)), None)
        if uid is None:
            raise ConflictError(f"every job user of the range {uids.start}-{uids.stop - 1} is busy")
        begin_write(session)
        session.add(JobSandbox(lease_id=lease_id, uid=uid))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return uid
    raise ConflictError("could not assign a job user: too much contention; the job retries")
