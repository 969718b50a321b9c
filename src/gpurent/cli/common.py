"""What every CLI command shares: the console, the database, JSON output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from sqlalchemy.orm import Session

from gpurent.bootstrap import prepare_database
from gpurent.config import load_settings
from gpurent.db.engine import make_engine, make_session_factory, session_scope

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

# soft_wrap: lines longer than the terminal are left to it, never broken inside a word.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on the configured database, migrated to the newest schema first.

    Refused while a server is in use (a profile or GPURENT_URL): a command that reaches
    this in remote mode has no API operation, and acts only on the server's host."""
    from gpurent.cli.remote import local_only

    local_only()
    engine = make_engine(load_settings().resolved_database_url())
    try:
        prepare_database(engine)
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def print_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, Sequence):
        payload = [item.model_dump(mode="json") for item in data]
    else:
        payload = data
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def cli_time(value: datetime | None) -> datetime | None:
    """Times typed on the command line are UTC unless they carry an offset."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
