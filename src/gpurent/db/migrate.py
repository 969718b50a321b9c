"""Alembic, driven from code: ``gpurent db upgrade`` and the server's start both land here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, text

from gpurent.db.engine import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant: servers and workers starting together take turns on this lock.
_PREPARE_LOCK = 0x67707572


@contextmanager
def exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process preparing the database shares."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PREPARE_LOCK})
        else:
            connection.execution_options(**{WRITE_OPTION: True})
            connection.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: SQLite's write lock
        yield connection
        connection.commit()


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection  # env.py runs on this connection
    return config


def upgrade_on(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    with exclusive(engine) as connection:
        upgrade_on(connection, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with exclusive(engine) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
