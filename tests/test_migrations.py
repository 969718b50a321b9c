"""Migrations: upgrade to head, no drift from the models, downgrade to base; both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from gpurent.db import migrate
from gpurent.db.engine import make_engine
from gpurent.db.models import metadata


class TestMigrations:
    def test_upgrade_check_downgrade(self, empty_db_url: str) -> None:
        engine = make_engine(empty_db_url)
        try:
            migrate.upgrade(engine)
            assert migrate.current_revision(engine) is not None
            assert {"facilities", "nodes", "gpus", "gpu_events", "gpu_models"} <= set(
                inspect(engine).get_table_names()
            )
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "render_as_batch": True}
                )
                assert compare_metadata(context, metadata) == []

            migrate.downgrade(engine, "base")
            assert migrate.current_revision(engine) is None
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        finally:
            engine.dispose()

    def test_upgrade_twice_is_harmless(self, empty_db_url: str) -> None:
        engine = make_engine(empty_db_url)
        try:
            migrate.upgrade(engine)
            first = migrate.current_revision(engine)
            migrate.upgrade(engine)
            assert migrate.current_revision(engine) == first
        finally:
            engine.dispose()


class TestEngine:
    def test_sqlite_runs_wal_with_foreign_keys(self, tmp_path: object) -> None:
        engine = make_engine(f"sqlite:///{tmp_path}/pragmas.db")
        try:
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        finally:
            engine.dispose()

    def test_foreign_keys_are_enforced(self, engine: Engine) -> None:
        with engine.connect() as connection, pytest.raises(IntegrityError, match=r"(?i)foreign"):
            connection.execute(
                text(
                    "INSERT INTO nodes (name, facility_id, cpu_cores, memory_gb, created_at) "
                    "VALUES ('orphan', 999, 1, 1, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
