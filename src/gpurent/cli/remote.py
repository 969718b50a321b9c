"""Which mode a command runs in: through the API (a profile or GPURENT_URL) or locally."""

from __future__ import annotations

from functools import cache

from typer._click.globals import get_current_context  # typer's own click

from gpurent.cli.profiles import Remote, active_remote
from gpurent.client import GpurentClient
from gpurent.errors import InvalidInputError


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
