"""Engines and sessions.

SQLite runs in WAL mode with foreign keys on, and its transactions are begun explicitly so
that SQLAlchemy (not the sqlite3 module) decides when they start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No ping before each checkout: it costs a round trip per request. A connection
        # that died with a database restart fails once and leaves the pool.
        return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=3600)
    engine = create_engine(url, connect_args={"timeout": 30})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin); the driver's implicit
        # transactions would otherwise begin late and ignore pragmas.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes SQLite's write lock at once (BEGIN IMMEDIATE), so
        # check-then-insert work such as booking GPUs is serialized; reads stay concurrent.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "gpurent_write"


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction.

    Call first in a unit of work that reads and then writes what it read (booking).
    SQLite serializes such transactions; PostgreSQL relies on constraints and row locks.
    """
    if session.in_transaction():
        raise RuntimeError("begin_write must start the transaction, not join one")
    session.connection(execution_options={WRITE_OPTION: True})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one unit of work; rolls back whatever was not committed."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
