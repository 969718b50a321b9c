"""The audit log's hash chain catches an edited, a deleted and a swapped record."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.audit import service as audit
from gpurent.audit.models import AuditRecord
from tests.test_cli import ok, run


@pytest.fixture
def chained(session: Session) -> Session:
    """Five sealed records (organizations and tokens being created)."""
    operator = accounts.create_organization(session, "Operator", "operator", "US", actor="t")
    for n in range(3):
        accounts.create_organization(session, f"Customer {n}", "customer", "DE", actor="t")
    accounts.create_token(session, operator, "officer", Role.COMPLIANCE, actor="t")
    assert audit.seal(session) == 5
    checked, problems = audit.verify(session)
    assert (checked, problems) == (5, [])
    return session


def test_an_edited_record_is_named(chained: Session) -> None:
    chained.execute(
        text("UPDATE audit_records SET detail = :d WHERE seq = 2"), {"d": json.dumps({"x": 1})}
    )
    chained.commit()
    _, problems = audit.verify(chained)
    assert [(p.seq, p.what) for p in problems] == [(2, "content changed since it was sealed")]


def test_a_deleted_record_is_named(chained: Session) -> None:
    chained.execute(text("DELETE FROM audit_records WHERE seq = 3"))
    chained.commit()
    _, problems = audit.verify(chained)
    assert [(p.seq, p.what) for p in problems] == [(3, "record(s) 3 deleted")]


def test_the_newest_record_deleted_is_caught_by_the_head(chained: Session) -> None:
    chained.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    chained.commit()
    _, problems = audit.verify(chained)
    assert [p.what for p in problems] == ["record(s) 5-5 deleted"]


def test_swapped_records_are_named(chained: Session) -> None:
    chained.execute(text("UPDATE audit_records SET seq = -2 WHERE seq = 2"))
    chained.execute(text("UPDATE audit_records SET seq = 2 WHERE seq = 3"))
    chained.execute(text("UPDATE audit_records SET seq = 3 WHERE seq = -2"))
    chained.commit()
    _, problems = audit.verify(chained)
    # The two swapped records, and the one after them, no longer link up.
    assert [p.seq for p in problems] == [2, 3, 4]
    assert all("out of order" in p.what for p in problems)


def test_records_appended_later_are_chained_after(chained: Session) -> None:
    accounts.create_organization(chained, "Customer 9", "customer", "FR", actor="t")
    assert audit.seal(chained) == 1
    last = chained.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
    assert last is not None
    assert last.seq == 6
    assert audit.verify(chained) == (6, [])


def test_cli_verify_and_export() -> None:
    ok("org", "create", "Operator", "--kind", "operator")
    token = ok("token", "create", "--org", "Operator", "--user", "root", "--role", "admin").strip()
    assert "audit log intact: 2 records" in ok("audit", "verify")
    lines = [json.loads(line) for line in ok("audit", "export").splitlines()]
    assert [r["action"] for r in lines] == ["organization.create", "token.create"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert token not in json.dumps(lines)  # the token itself is never logged

    db = Path(os.environ["GPURENT_DATA_DIR"]) / "gpurent.db"
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE audit_records SET actor = 'someone else' WHERE seq = 1")
    result = run("audit", "verify")
    assert result.returncode == 1
    assert "record 1" in result.stdout
    assert "content changed" in result.stdout
