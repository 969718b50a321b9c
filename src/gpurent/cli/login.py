"""``gpurent login``, ``logout``, ``profile list|use|remove`` and ``whoami``."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url

from gpurent.accounts.roles import GRANTS, Role
from gpurent.cli import remote
from gpurent.cli.common import cli_actor
from gpurent.cli.profiles import Profile, ProfileStore
from gpurent.cli.render import (
    JSON_OPTION,
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    emit,
    output_format,
    say,
    show_table,
)
from gpurent.client import GpurentClient
from gpurent.config import load_settings
from gpurent.errors import InvalidInputError

profile_app = typer.Typer(help="Servers this command line talks to.", no_args_is_help=True)


def login(
    url: str = typer.Argument(..., help="the server, e.g. https://gpurent.example.com"),
    token: str | None = typer.Option(
        None, "--token", help="an API token (asked for, unechoed, when not given)"
    ),
    name: str = typer.Option("default", "--name", help="the profile's name"),
) -> None:
    """Check a token against a server, store it as a profile (0600) and use it."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInputError(f"{url!r}: the server's URL starts with http:// or https://")
    secret = token or typer.prompt("token", hide_input=True)
    with GpurentClient(url, secret) as api:
        me = api.whoami()
    identity = f"{me.user}@{me.organization} ({me.role})"
    store = ProfileStore()
    store.save(Profile(name=name, url=url.rstrip("/"), token=secret.strip(), identity=identity))
    say(f"logged in to {url.rstrip('/')} as {identity}; profile {name!r} is in use")


def logout() -> None:
    """Stop using the profile in use (it stays stored): commands act locally again."""
    store = ProfileStore()
    current = store.current()
    store.use(None)
    say(f"profile {current.name!r} is no longer in use" if current else "no profile was in use")


@profile_app.command("list")
def list_profiles(
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Stored profiles (their tokens are never shown); * marks the one in use."""
    store = ProfileStore()
    current = store.current()
    rows = store.profiles()
    data = [
        {"name": p.name, "url": p.url, "identity": p.identity, "current": p == current}
        for p in rows
    ]
    columns: list[Column[Profile]] = [
        Column("", lambda p: "*" if p == current else ""),
        Column("name", lambda p: p.name),
        Column("url", lambda p: p.url),
        Column("identity", lambda p: p.identity, priority=1, fold=True),
    ]
    fmt = output_format(as_json, output)
    if not rows and fmt is OutputFormat.TABLE:
        say("no profiles: gpurent login URL --token TOKEN")
        return
    show_table(data, rows, columns, fmt, wide)


@profile_app.command("use")
def use_profile(name: str) -> None:
    """Put a stored profile in use."""
    ProfileStore().use(name)
    say(f"profile {name!r} is in use")


@profile_app.command("remove")
def remove_profile(name: str) -> None:
    """Forget a profile and its token."""
    ProfileStore().remove(name)
    say(f"profile {name!r} removed")


def whoami(as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION) -> None:
    """Which mode commands run in (remote or local) and as whom."""
    api = remote.client()
    where = remote.remote()
    if api is None or where is None:
        url = make_url(load_settings().resolved_database_url()).render_as_string(hide_password=True)
        data = {
            "mode": "local",
            "database": url,
            "user": cli_actor(),
            "role": Role.ADMIN.value,
            "permissions": [p.value for p, roles in GRANTS.items() if Role.ADMIN in roles],
        }
        text = f"local mode: {cli_actor()}, acting as an administrator on {url}\n"
    else:
        me = api.whoami()
        data = {"mode": "remote", "url": where.url, "source": where.source}
        data |= me.model_dump(mode="json")
        text = (
            f"remote mode: {where.url} ({where.source}), as {me.user}@{me.organization}, "
            f"role {me.role}\n"
        )
    emit(data, output_format(as_json, output), lambda: text)
