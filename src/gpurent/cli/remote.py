"""Which mode a command runs in: through the API (a profile or GPURENT_URL) or locally."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar

from sqlalchemy.orm import Session
from typer._click.globals import get_current_context  # typer's own click

from gpurent.cli.profiles import Remote, active_remote
from gpurent.client import GpurentClient
from gpurent.errors import InvalidInputError

T = TypeVar("T")


@cache
def remote() -> Remote | None:
    """The server of this command (read once per process), or None: local mode."""
    return active_remote()


@cache
def client() -> GpurentClient | None:
    """A client for the server in use, or None in local mode."""
    where = remote()
    if where is None:
        return None
    return GpurentClient(where.url, where.token)


def through_either(remotely: Callable[[GpurentClient], T], locally: Callable[[Session], T]) -> T:
    """One command's data from the server in use, or from the local database: the two
    modes then render the same value the same way."""
    api = client()
    if api is not None:
        return remotely(api)
    from gpurent.cli.common import open_session  # common imports this module

    with open_session() as session:
        return locally(session)


def local_only(what: str | None = None) -> None:
    """Refuse a command that works only on the server's host while a server is in use."""
    where = remote()
    if where is not None:
        if what is None:
            context = get_current_context(silent=True)
            what = context.command_path if context else "this command"
        raise InvalidInputError(
            f"{what} works only locally, on the server's host; this command line talks to "
            f"{where.url} ({where.source}): run it there, or `gpurent logout` here"
        )
