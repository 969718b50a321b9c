"""Writes on SQLite queue for the write lock instead of failing, and nothing screens while
it holds that lock; a list import retried with the same files adds no version."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.compliance import gate, monitoring, service
from gpurent.compliance.policy import load_policy
from gpurent.config import Settings
from gpurent.db.engine import make_engine, make_session_factory
from gpurent.demo import load_demo
from gpurent.leases.index import FleetCache
from gpurent.leases.schemas import LeaseRequest
from gpurent.lists import service as lists
from gpurent.lists.models import ListVersion


@pytest.fixture
def sqlite_path(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "locks.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
def sqlite_engine(sqlite_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{sqlite_path}")
    yield engine
    engine.dispose()


def write_lock_free(path: Path) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


class TestReadThenWrite:
    def test_a_read_that_turns_into_a_write_waits_instead_of_failing(
        self, sqlite_engine: Engine
    ) -> None:
        """SQLite refuses at once to upgrade a read after another connection committed
        ("database is locked"); the engine begins the write afresh instead."""
        factory = make_session_factory(sqlite_engine)
        with factory() as reader, factory() as writer:
            before = reader.scalar(select(func.count()).select_from(ListVersion))
            accounts.create_organization(writer, "Meanwhile", "customer", "DE", actor="t")
            reader.execute(
                text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
                {"h": "0" * 64},
            )
            reader.commit()
            assert before == 0
            assert reader.scalar(text("SELECT count(*) FROM audit_head")) == 1

    def test_a_write_inside_a_savepoint_is_left_alone(self, sqlite_engine: Engine) -> None:
        with make_session_factory(sqlite_engine)() as session:
            session.scalar(select(func.count()).select_from(ListVersion))
            with session.begin_nested():
                session.execute(
                    text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
                    {"h": "0" * 64},
                )
            session.commit()
            assert session.scalar(text("SELECT count(*) FROM audit_head")) == 1


@pytest.fixture
def demo(sqlite_engine: Engine, tmp_path: Path) -> Session:
    session = make_session_factory(sqlite_engine)()
    load_demo(session, tmp_path / "demo-token", Settings(data_dir=tmp_path))
    session.rollback()
    return session


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch, sqlite_path: Path) -> list[bool]:
    """Around every decision (where screening happens): is the write lock free?"""
    seen: list[bool] = []
    decide: Callable[..., Any] = service.decide

    def probing(*args: Any, **kwargs: Any) -> Any:
        seen.append(write_lock_free(sqlite_path))
        outcome = decide(*args, **kwargs)
        seen.append(write_lock_free(sqlite_path))
        return outcome

    monkeypatch.setattr(service, "decide", probing)
    booking_facts: Callable[..., Any] = gate.gather_for_booking

    def probing_booking(*args: Any, **kwargs: Any) -> Any:  # the gate's own path
        seen.append(write_lock_free(sqlite_path))
        found = booking_facts(*args, **kwargs)
        seen.append(write_lock_free(sqlite_path))
        return found

    monkeypatch.setattr(gate, "gather_for_booking", probing_booking)
    return seen


class TestNoScreeningUnderTheLock:
    def test_the_gate_decides_before_it_writes(
        self, demo: Session, probe: list[bool], tmp_path: Path
    ) -> None:
        token = accounts.create_token(
            demo,
            accounts.get_organization(demo, "Lakeside University"),
            "probe",
            Role.RENTER,
            actor="t",
        )
        who = accounts.principal_for(demo, token)
        assert who is not None
        lease, _, outcome = gate.book(
            demo,
            Settings(data_dir=tmp_path),
            who,
            LeaseRequest(gpu_model="A100-80GB", gpus=1, hours=1),
            organization_name=None,
            idempotency_key=None,
            fleet=FleetCache(),
        )
        assert outcome.decision == "allow"
        assert lease.id
        assert probe == [True, True]

    def test_the_rescreen_screens_between_its_writes(
        self, demo: Session, probe: list[bool]
    ) -> None:
        report = monitoring.rescreen_all(
            demo, load_policy(), 0.75, hold=timedelta(hours=48), actor="t"
        )
        assert report.screened == 3
        assert probe == [True] * 6


class TestImportRetried:
    def test_the_same_files_add_no_version(self, session: Session, tmp_path: Path) -> None:
        listing = tmp_path / "csl.csv"
        listing.write_text(
            "source,entity_number,type,programs,name,addresses\n"
            "Entity List (EL) - Bureau of Industry and Security,,Entity,,Acme Robotics,"
            '"1 Road, Berlin, DE"\n'
        )
        first = lists.import_versions(session, lists.read_files([listing]), "t")
        again = lists.import_versions(session, lists.read_files([listing]), "t")
        assert [v.id for v in again.versions] == [v.id for v in first.created]
        assert again.created == []
        with listing.open("a") as more:
            more.write("Entity List (EL) - Bureau of Industry and Security,,Entity,,Beta Labs,\n")
        changed = lists.import_versions(session, lists.read_files([listing]), "t")
        assert len(changed.created) == 1
        assert session.scalar(select(func.count()).select_from(ListVersion)) == 2
