"""Entry point of the ``gpurent`` command."""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click

from gpurent import __version__
from gpurent.bootstrap import prepare_database
from gpurent.cli import (
    accounts,
    billing,
    catalog,
    compliance,
    fleet,
    jobs,
    leases,
    lists,
    login,
    offers,
)
from gpurent.cli.common import console, err_console, open_session
from gpurent.cli.remote import local_only
from gpurent.config import load_settings
from gpurent.db.engine import make_engine
from gpurent.errors import FileFormatError, GpurentError

# Exit codes (README, "Command line"): 0 done, 1 refused or failed (an `error:` line says
# why), 2 a usage mistake (unknown command or option, a value of the wrong kind).
USAGE_EXIT = 2

app = typer.Typer(
    name="gpurent",
    help="Control plane for GPU rental clouds, with export-control compliance built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(fleet.app, name="fleet")
app.add_typer(catalog.app, name="catalog")
app.add_typer(leases.app, name="lease")
app.add_typer(lists.app, name="lists")
app.add_typer(jobs.app, name="job")
app.command("usage")(jobs.usage)
app.add_typer(accounts.org_app, name="org")
app.add_typer(accounts.token_app, name="token")
app.add_typer(compliance.app, name="compliance")
app.add_typer(compliance.review_app, name="review")
app.add_typer(compliance.audit_app, name="audit")
app.command("screen")(lists.screen)
app.command("offers")(offers.offers)
app.command("quote")(offers.quote)
app.command("availability")(offers.availability)
billing.register(app)
app.command("login")(login.login)
app.command("logout")(login.logout)
app.command("whoami")(login.whoami)
app.add_typer(login.profile_app, name="profile")


@app.command()
def version() -> None:
    """Print gpurent's version."""
    console.print(__version__)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on [GPURENT_HOST]."),
    port: int | None = typer.Option(None, help="Port to listen on [GPURENT_PORT]."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo fleet into an empty database."),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run the lifecycle worker inside the server."
    ),
    processes: int = typer.Option(
        1, min=1, max=64, help="Server processes (use about one per CPU core)."
    ),
) -> None:
    """Run the API server (migrating the database first)."""
    local_only("gpurent serve")
    import os

    import uvicorn

    from gpurent.demo import load_demo

    settings = load_settings()
    if demo:
        with open_session() as session:
            report = load_demo(session, settings.demo_token_path(), settings)
        if report is not None:
            console.print(f"demo fleet loaded: {report.created['gpus']} GPUs")
        console.print(f"demo administrator token: {settings.demo_token_path()}")
    bind_host = host or settings.host
    bind_port = port or settings.port
    console.print(f"gpurent {__version__} on http://{bind_host}:{bind_port} (API docs at /docs)")
    # Each server process migrates (under a lock) as it starts and builds its app from
    # the environment (uvicorn's factory).
    os.environ["GPURENT_WORKER_IN_SERVER"] = "true" if worker else "false"
    uvicorn.run(
        "gpurent.api.app:app_from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=processes,
        log_level=settings.log_level,
    )


@app.command("worker")
def run_worker(
    once: bool = typer.Option(False, "--once", help="Do one round of due work and exit."),
) -> None:
    """Run the lifecycle worker alone (for deployments with several servers)."""
    local_only("gpurent worker")
    import logging

    from gpurent.worker.runner import Worker

    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(message)s")
    engine = make_engine(settings.resolved_database_url())
    prepare_database(engine)
    worker = Worker(engine, settings)
    if once:
        report = worker.run_once()
        console.print(
            f"started {len(report.started)}, ended {len(report.ended)}, "
            f"warned {len(report.notified)}, moved {len(report.replaced)}, "
            f"flagged {len(report.flagged)}"
        )
        return
    console.print(f"gpurent worker: every {settings.worker_interval_seconds} s (Ctrl+C stops)")
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        worker.stop()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    local_only("gpurent db upgrade")
    url = load_settings().resolved_database_url()
    engine = make_engine(url)
    try:
        prepare_database(engine)
    finally:
        engine.dispose()
    console.print(f"database {make_url(url).render_as_string(hide_password=True)} is up to date")


def main() -> None:
    """Run the CLI: user mistakes print one clear line and exit non-zero."""
    os.umask(0o077)  # what gpurent writes (database, keys, job records) is its own
    try:
        result = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(USAGE_EXIT)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "gpurent"
        err_console.print(f"error: {exc.format_message()}", markup=False)
        err_console.print(f"  (see {command} --help)", markup=False)
        sys.exit(USAGE_EXIT)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("error: interrupted", markup=False)
        sys.exit(130)
    except FileFormatError as exc:
        err_console.print(f"error: {exc.path}: {len(exc.items)} problem(s):", markup=False)
        for item in exc.items:
            err_console.print(f"  {item.msg}", markup=False)
        sys.exit(1)
    except GpurentError as exc:
        err_console.print(f"error: {exc.message}", markup=False)
        sys.exit(1)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            err_console.print(f"error: {where}: {error['msg']}", markup=False)
        sys.exit(1)
    except OperationalError as exc:
        err_console.print(f"error: database unavailable: {exc.orig}", markup=False)
        sys.exit(1)
    if isinstance(result, int) and result:
        sys.exit(result)
