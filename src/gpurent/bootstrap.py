"""Getting a database ready to serve: migrations, then the built-in catalog."""

from __future__ import annotations

from sqlalchemy import Engine

from gpurent.catalog import service as catalog_service
from gpurent.db import migrate
from gpurent.db.engine import make_session_factory, session_scope


def prepare_database(engine: Engine) -> None:
    """Upgrade to the newest schema and bring the built-in GPU models up to date."""
    migrate.upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        catalog_service.sync_builtin_models(session)
