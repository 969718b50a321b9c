"""Getting a database ready to serve: migrations, then the built-in catalog."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gpurent.catalog import service as catalog_service
from gpurent.db import migrate


def prepare_database(engine: Engine) -> None:
    """Upgrade to the newest schema and bring the built-in GPU models up to date.

    Several servers and workers may start at once on one database: they take turns.
    """
    with migrate.exclusive(engine) as connection:
        migrate.upgrade_on(connection)
        # The session joins the locked transaction; it commits when the lock is let go.
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            catalog_service.sync_builtin_models(session)
