"""Engines and sessions.

SQLite runs in WAL mode with foreign keys on, and its transactions are begun explicitly so
that SQLAlchemy (not the sqlite3 module) decides when they start.

Every SQLite transaction that writes holds the write lock from BEGIN IMMEDIATE: one begun
with `begin_write` takes it at once; one begun as a read takes it at its first write, by
ending the read and beginning again immediately (`_take_write_lock`). SQLite cannot turn a
read into a write once another connection has committed since the read began (it answers
"database is locked" without waiting), so this is what lets writers queue on the busy
timeout instead of failing. The reads before the first write then see the database as of
before it, as every statement does under PostgreSQL's READ COMMITTED: work that reads and
writes what it read begins with `begin_write` on both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def _keep_private(database: str | None) -> None:
    """The database file and its WAL and shared-memory files: readable by gpurent alone."""
    if not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        path = Path(database + suffix)
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(0o600)


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
        _keep_private(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes SQLite's write lock at once (BEGIN IMMEDIATE), so
        # check-then-insert work such as booking GPUs is serialized; reads stay concurrent.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.info[_WRITING] = immediate
        connection.info[_SAVEPOINT] = False
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(
        connection: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        info = connection.info
        if info.get(_WRITING, True) or not connection.in_transaction():
            return
        if statement.lstrip()[:9].upper() == "SAVEPOINT":
            info[_SAVEPOINT] = True
        elif _WRITES.match(statement) and not info.get(_SAVEPOINT):
            _take_write_lock(connection.connection.dbapi_connection)
            info[_WRITING] = True


_WRITING = "gpurent_writing"
_SAVEPOINT = "gpurent_savepoint"
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def _take_write_lock(dbapi_connection: Any) -> None:
    """Turn the read transaction about to write into BEGIN IMMEDIATE, which waits for the
    lock (busy timeout) where upgrading the read would fail at once. Nothing was written
    yet, so ending the read loses nothing; a savepoint would (those stay as they are)."""
    if dbapi_connection.in_transaction:
        dbapi_connection.execute("COMMIT")
    dbapi_connection.execute("BEGIN IMMEDIATE")


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
