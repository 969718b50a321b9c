"""``gpurent lease``: book, list, show, extend, release and cancel leases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import typer
from rich.table import Table

from gpurent.cli.common import JSON_OPTION, cli_actor, cli_time, console, open_session, print_json
from gpurent.compliance import gate
from gpurent.config import load_settings
from gpurent.leases import changes, service
from gpurent.leases.index import FleetCache
from gpurent.leases.schemas import EndChange, LeaseOut, LeaseRequest
from gpurent.leases.states import LeaseStatus
from gpurent.leases.window import LeaseLimits
from gpurent.offers.terms import Term
from gpurent.timeutil import as_utc

app = typer.Typer(help="Leases: GPUs booked for a window.", no_args_is_help=True)


def _show(lease: LeaseOut, as_json: bool) -> None:
    if as_json:
        print_json(lease)
        return
    console.print(
        f"[bold]lease {lease.id}[/bold] {lease.status}: {lease.gpus} x {lease.gpu_model} "
        f"({lease.term}) in {lease.facility} ({lease.country})"
    )
    console.print(
        f"  {lease.start.isoformat(timespec='seconds')} -> "
        f"{lease.end.isoformat(timespec='seconds')}"
        + (" (at most; open-ended)" if lease.open_ended else "")
    )
    console.print(f"  GPUs: {', '.join(lease.gpu_addresses)}")
    console.print(
        f"  price: {lease.price.total} {lease.price.currency} "
        f"at {lease.price.hourly_per_gpu}/GPU-hour"
    )
    if lease.flag:
        console.print(f"  [red]flag: {lease.flag}[/red]")


@app.command("create")
def create(
    gpu_model: str = typer.Argument(...),
    gpus: int = typer.Argument(..., min=1),
    hours: Decimal | None = typer.Option(None, help="Duration; none: open-ended."),
    start: datetime | None = typer.Option(None, help="Start (UTC); default now."),
    end: datetime | None = typer.Option(None, help="End (UTC), instead of --hours."),
    term: Term = typer.Option(Term.ON_DEMAND),
    months: int | None = typer.Option(None, help="Reserved term length."),
    facility: str | None = typer.Option(None),
    country: str | None = typer.Option(None),
    idempotency_key: str | None = typer.Option(None, help="Retry-safe key."),
    organization: str | None = typer.Option(
        None, "--org", help="The customer (default: the operator's own use)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Book N GPUs of a model, through the export-control gate."""
    request = LeaseRequest(
        gpu_model=gpu_model,
        gpus=gpus,
        hours=hours,
        start=cli_time(start),
        end=cli_time(end),
        term=term,
        months=months,
        facility=facility,
        country=country,
    )
    settings = load_settings()
    with open_session() as session:
        lease, _, _ = gate.book(
            session,
            settings,
            gate.cli_principal(cli_actor()),
            request,
            organization_name=organization,
            idempotency_key=idempotency_key,
            fleet=FleetCache(),
        )
        out = service.lease_out(service.get_lease(session, lease.id))
    _show(out, as_json)


@app.command("list")
def list_leases(
    status: LeaseStatus | None = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON_OPTION,
) -> None:
    """Leases, newest first."""
    with open_session() as session:
        leases, total = service.list_leases(session, limit=limit, status=status)
        rows = [service.lease_out(lease) for lease in leases]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "status", "GPUs", "term", "facility", "start", "end", "price")
    for lease in rows:
        table.add_row(
            str(lease.id),
            lease.status,
            f"{lease.gpus} x {lease.gpu_model}",
            lease.term,
            lease.facility,
            lease.start.isoformat(timespec="minutes"),
            lease.end.isoformat(timespec="minutes"),
            f"{lease.price.total} {lease.price.currency}",
        )
    console.print(table)
    console.print(f"{len(rows)} of {total}")


@app.command("show")
def show(lease_id: int, as_json: bool = JSON_OPTION) -> None:
    """One lease and its events."""
    with open_session() as session:
        lease = service.lease_out(service.get_lease(session, lease_id))
        events = [service.event_out(e) for e in service.lease_events(session, lease_id)]
    if as_json:
        print_json(
            lease.model_dump(mode="json") | {"events": [e.model_dump(mode="json") for e in events]}
        )
        return
    _show(lease, False)
    for event in events:
        console.print(
            f"  {event.at.isoformat(timespec='seconds')} {event.kind} {event.detail}", markup=False
        )


@app.command("extend")
def extend(
    lease_id: int,
    hours: Decimal | None = typer.Option(None, help="Move the end this much later."),
    end: datetime | None = typer.Option(None, help="The new end (UTC)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a lease's end later."""
    _move(lease_id, EndChange(hours=hours, end=cli_time(end)), True, as_json)


@app.command("shorten")
def shorten(
    lease_id: int,
    hours: Decimal | None = typer.Option(None, help="Move the end this much earlier."),
    end: datetime | None = typer.Option(None, help="The new end (UTC)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a lease's end earlier."""
    _move(lease_id, EndChange(hours=hours, end=cli_time(end)), False, as_json)


def _move(lease_id: int, change: EndChange, longer: bool, as_json: bool) -> None:
    settings = load_settings()
    limits = LeaseLimits.of(settings)
    with open_session() as session:
        new_end = changes.requested_end(session, lease_id, change, longer=longer)
        if longer:
            lease = service.get_lease(session, lease_id)
            extra = Decimal((new_end - as_utc(lease.ends_at)).total_seconds()) / 3600
            gate.check_extension(session, settings, gate.cli_principal(cli_actor()), lease, extra)
        session.rollback()
        changes.change_end(session, lease_id, new_end, actor=cli_actor(), limits=limits)
        out = service.lease_out(service.get_lease(session, lease_id))
    _show(out, as_json)


@app.command("release")
def release(lease_id: int, as_json: bool = JSON_OPTION) -> None:
    """End an active lease now (one not started yet is cancelled)."""
    with open_session() as session:
        out = service.lease_out(service.release_lease(session, lease_id, actor=cli_actor()))
    _show(out, as_json)


@app.command("cancel")
def cancel(lease_id: int, as_json: bool = JSON_OPTION) -> None:
    """Cancel a lease that has not started."""
    with open_session() as session:
        out = service.lease_out(service.cancel_lease(session, lease_id, actor=cli_actor()))
    _show(out, as_json)
