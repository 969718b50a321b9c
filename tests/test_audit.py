"""The audit log's hash chain catches an edited, a deleted and a swapped record; its MACs
and checkpoints catch forgeries by someone who can write to the database."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.audit import keys
from gpurent.audit import service as audit
from gpurent.audit.models import AuditHead, AuditRecord
from gpurent.config import Settings
from gpurent.worker.runner import Worker
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


class TestForgery:
    """Someone who can write to the database, but holds no key, forges records."""

    def test_the_newest_record_deleted_and_the_head_fixed_is_named(self, chained: Session) -> None:
        fourth = chained.scalars(select(AuditRecord).where(AuditRecord.seq == 4)).one()
        chained.execute(text("DELETE FROM audit_records WHERE seq = 5"))
        chained.execute(
            text("UPDATE audit_head SET last_seq = 4, last_hash = :h"), {"h": fourth.hash}
        )
        chained.commit()
        _, problems = audit.verify(chained)
        assert [p.what for p in problems] == ["the head row was altered: its MAC is wrong"]
        # Nothing is chained onto a forged head.
        accounts.create_organization(chained, "Later", "customer", "FR", actor="t")
        assert audit.seal(chained) == 0

    def test_a_back_dated_row_is_refused_by_the_sealer_and_named(self, chained: Session) -> None:
        chained.execute(
            insert(AuditRecord).values(
                at=datetime(2020, 1, 1, tzinfo=UTC),
                actor="admin",
                action="compliance.decision",
                subject="organization:2",
                detail={"decision": "allow"},
            )
        )
        chained.commit()
        accounts.create_organization(chained, "Genuine", "customer", "FR", actor="t")
        assert audit.seal(chained) == 1  # the genuine record only
        checked, problems = audit.verify(chained)
        assert checked == 6
        assert [(p.seq, p.what) for p in problems] == [
            (None, "forged: not sealed, its MAC is wrong (not written by gpurent)")
        ]

    def test_a_copied_mac_does_not_fit_other_content(self, chained: Session) -> None:
        genuine = chained.scalars(select(AuditRecord).where(AuditRecord.seq == 1)).one()
        chained.execute(
            insert(AuditRecord).values(
                at=genuine.at,
                actor=genuine.actor,
                action=genuine.action,
                subject="organization:99",
                detail=genuine.detail,
                mac=genuine.mac,
            )
        )
        chained.commit()
        assert audit.seal(chained) == 0
        assert len(audit.verify(chained)[1]) == 1

    def test_a_chain_recomputed_around_a_forged_record_is_named(self, chained: Session) -> None:
        """Rewrite record 3 and every hash after it, and the head: only the MACs tell."""
        records = list(chained.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
        records[2].subject = "organization:999"
        previous = records[1].hash or ""
        for item in records[2:]:
            item.prev_hash, item.hash = previous, audit.content_hash(previous, item)
            previous = item.hash
        head = chained.get(AuditHead, 1)
        assert head is not None
        head.last_hash = previous
        chained.commit()
        _, problems = audit.verify(chained)
        assert [(p.seq, p.what) for p in problems] == [
            (3, "forged: its MAC is wrong (not written by gpurent)"),
            (5, "the head row was altered: its MAC is wrong"),
        ]

    def test_an_old_head_put_back_is_caught_by_the_checkpoint(self, chained: Session) -> None:
        """A saved copy of the head (with its genuine MAC) after deleting newer records."""
        saved = chained.execute(text("SELECT last_seq, last_hash, mac FROM audit_head")).one()
        accounts.create_organization(chained, "Later", "customer", "FR", actor="t")
        assert audit.seal(chained) == 1
        checkpoint = audit.write_checkpoint(chained, datetime(2026, 12, 1, 15, tzinfo=UTC))
        assert checkpoint is not None
        assert checkpoint.seq == 6
        chained.execute(text("DELETE FROM audit_records WHERE seq = 6"))
        chained.execute(
            text("UPDATE audit_head SET last_seq = :s, last_hash = :h, mac = :m"),
            {"s": saved.last_seq, "h": saved.last_hash, "m": saved.mac},
        )
        chained.commit()
        _, problems = audit.verify(chained)
        assert [(p.seq, p.what) for p in problems] == [
            (
                6,
                "the chain ends at record 5, before the checkpoint of "
                "2026-12-01T15:00:00+00:00 (record 6): records deleted",
            )
        ]
        assert audit.write_checkpoint(chained) is None  # the evidence stays

    def test_a_chain_rewritten_before_the_checkpoint_is_named(self, chained: Session) -> None:
        audit.write_checkpoint(chained)
        chained.execute(text("UPDATE audit_records SET hash = :h WHERE seq = 5"), {"h": "f" * 64})
        chained.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": "f" * 64})
        chained.commit()
        whats = [p.what for p in audit.verify(chained)[1]]
        assert any("differs from the checkpoint" in w for w in whats), whats

    def test_an_altered_checkpoint_is_named(self, chained: Session) -> None:
        audit.write_checkpoint(chained)
        path = keys.key_for(chained.get_bind()).checkpoint_path
        data = json.loads(path.read_text())
        path.write_text(json.dumps(data | {"seq": 3}))
        whats = [p.what for p in audit.verify(chained)[1]]
        assert whats == [f"the checkpoint {path} was altered: its MAC is wrong"]

    def test_records_written_with_another_key_are_not_sealed(
        self, chained: Session, tmp_path: Path
    ) -> None:
        engine = chained.get_bind()
        assert isinstance(engine, Engine)
        own = keys.key_for(engine)
        other = Settings(data_dir=tmp_path / "elsewhere", audit_key=SecretStr("k" * 40))
        keys.bind(engine, other)
        accounts.create_organization(chained, "Elsewhere", "customer", "FR", actor="t")
        keys._bound[engine] = own
        assert audit.seal(chained) == 0


class TestLegacyRecords:
    def test_records_sealed_before_macs_pass_and_later_ones_do_not(self, chained: Session) -> None:
        chained.execute(text("UPDATE audit_records SET mac = NULL WHERE seq <= 3"))
        chained.execute(text("UPDATE audit_head SET legacy_through = 3"))
        chained.commit()
        problems = audit.verify(chained)[1]
        # The head's MAC covers legacy_through: raising it is forging the head.
        assert [p.what for p in problems] == ["the head row was altered: its MAC is wrong"]

    def test_a_head_left_by_the_migration_is_accepted_then_maced(self, chained: Session) -> None:
        chained.execute(text("UPDATE audit_records SET mac = NULL"))
        chained.execute(text("UPDATE audit_head SET legacy_through = last_seq, mac = NULL"))
        chained.commit()
        assert audit.verify(chained) == (5, [])
        accounts.create_organization(chained, "New", "customer", "FR", actor="t")
        assert audit.seal(chained) == 1
        assert audit.verify(chained) == (6, [])
        chained.execute(text("UPDATE audit_records SET mac = NULL WHERE seq = 6"))
        chained.commit()
        assert [p.seq for p in audit.verify(chained)[1]] == [6]


class TestKeys:
    def test_the_key_file_is_made_private_and_kept(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "d")
        first = keys.key_of(settings)
        path = settings.audit_key_path()
        assert path.stat().st_mode & 0o777 == 0o600
        assert keys.key_of(settings) == first
        path.chmod(0o644)
        with pytest.raises(keys.AuditKeyError, match="readable by others"):
            keys.key_of(settings)

    def test_the_environment_key_wins(self, tmp_path: Path) -> None:
        a = keys.key_of(Settings(data_dir=tmp_path, audit_key=SecretStr("a" * 32)))
        b = keys.key_of(Settings(data_dir=tmp_path, audit_key=SecretStr("b" * 32)))
        assert a.mac("record", "x") != b.mac("record", "x")
        assert not (tmp_path / "audit.key").exists()

    def test_a_short_key_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            Settings(audit_key=SecretStr("short"))


class TestCheckpoints:
    def test_at_most_once_a_minute(self, chained: Session) -> None:
        checkpoints = audit.Checkpoints()
        t = datetime(2026, 12, 1, 15, tzinfo=UTC)
        assert checkpoints.write_if_due(chained, t) is not None
        assert checkpoints.write_if_due(chained, t + timedelta(seconds=59)) is None
        again = checkpoints.write_if_due(chained, t + timedelta(seconds=60))
        assert again is not None
        assert again.seq == 5

    def test_the_worker_writes_one(self, chained: Session) -> None:
        engine = chained.get_bind()
        assert isinstance(engine, Engine)
        Worker(engine, Settings()).run_once()
        checkpoint, problem = audit.read_checkpoint(keys.key_for(engine))
        assert problem is None
        assert checkpoint is not None
        assert checkpoint.seq == 5


def test_cli_names_both_forgeries() -> None:
    """The two forgeries of issue 12, done with sqlite3 on the embedded database."""
    ok("org", "create", "Operator", "--kind", "operator")
    ok("org", "create", "Customer", "--kind", "customer")
    ok("org", "create", "Other", "--kind", "customer")
    assert "audit log intact: 3 records" in ok("audit", "verify")
    ok("audit", "export")  # writes a checkpoint too
    db = Path(os.environ["GPURENT_DATA_DIR"]) / "gpurent.db"
    with sqlite3.connect(db) as connection:
        (second,) = connection.execute("SELECT hash FROM audit_records WHERE seq = 2").fetchone()
        connection.execute("DELETE FROM audit_records WHERE seq = 3")
        connection.execute("UPDATE audit_head SET last_seq = 2, last_hash = ?", (second,))
    result = run("audit", "verify")
    assert result.returncode == 1
    assert "the head row was altered" in result.stdout
    assert "before the checkpoint" in result.stdout

    with sqlite3.connect(db) as connection:  # undo, then forge the other way
        connection.execute("DELETE FROM audit_records")
        connection.execute("DELETE FROM audit_head")
    (Path(os.environ["GPURENT_DATA_DIR"]) / "audit-checkpoint.json").unlink()
    ok("org", "create", "Third", "--kind", "customer")
    assert "audit log intact: 1 records" in ok("audit", "verify")
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO audit_records (at, actor, action, subject, detail) VALUES "
            "('2026-01-01 00:00:00.000000', 'admin', 'compliance.decision', "
            "'organization:2', '{\"decision\": \"allow\"}')"
        )
    result = run("audit", "verify")
    assert result.returncode == 1
    assert "forged: not sealed" in result.stdout
