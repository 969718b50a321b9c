"""``gpurent lease``: book, list, show, extend, release and cancel leases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import typer

from gpurent.billing import service as billing
from gpurent.cli import remote
from gpurent.cli.common import cli_actor, cli_time, open_session
from gpurent.cli.render import (
    JSON_OPTION,
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    emit,
    money,
    output_format,
    show_table,
    when,
)
from gpurent.compliance import gate
from gpurent.config import load_settings
from gpurent.leases import changes, service
from gpurent.leases.index import FleetCache
from gpurent.leases.schemas import EndChange, LeaseEventOut, LeaseOut, LeaseRequest
from gpurent.leases.states import LeaseStatus
from gpurent.leases.window import LeaseLimits
from gpurent.offers.terms import Term
from gpurent.timeutil import as_utc

app = typer.Typer(help="Leases: GPUs booked for a window.", no_args_is_help=True)

COLUMNS: list[Column[LeaseOut]] = [
    Column("id", lambda x: str(x.id), right=True),
    Column("status", lambda x: x.status.value),
    Column("GPUs", lambda x: f"{x.gpus} x {x.gpu_model}"),
    Column("start", lambda x: when(x.start)),
    Column("end", lambda x: when(x.end) + ("+" if x.open_ended else "")),
    Column("price", lambda x: money(x.price.total, x.price.currency), priority=1, right=True),
    Column("facility", lambda x: x.facility, priority=2),
    Column("term", lambda x: x.term.value, priority=3),
    Column("addresses", lambda x: ", ".join(x.gpu_addresses), priority=4, fold=True),
]


def lease_text(lease: LeaseOut, events: list[LeaseEventOut] | None = None) -> str:
    """A lease, as ``lease show`` and every command that changes one print it."""
    lines = [
        f"lease {lease.id} {lease.status}: {lease.gpus} x {lease.gpu_model} "
        f"({lease.term}) in {lease.facility} ({lease.country})",
        f"  {when(lease.start)} -> {when(lease.end)}"
        + (" (at most; open-ended)" if lease.open_ended else ""),
        f"  GPUs: {', '.join(lease.gpu_addresses)}",
        f"  price: {money(lease.price.total, lease.price.currency)} "
        f"at {lease.price.hourly_per_gpu}/GPU-hour",
    ]
    if lease.cost_to_date is not None:
        lines.append(f"  cost to date: {money(lease.cost_to_date, lease.price.currency)}")
    if lease.flag:
        lines.append(f"  flag: {lease.flag}")
    lines += [f"  {when(e.at)} {e.kind} {e.detail}" for e in events or []]
    return "\n".join(lines) + "\n"


def _show(lease: LeaseOut, fmt: OutputFormat) -> None:
    emit(lease, fmt, lambda: lease_text(lease))


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
    idempotency_key: str | None = typer.Option(
        None, help="Retry-safe key (remote mode makes one for every booking)."
    ),
    organization: str | None = typer.Option(
        None, "--org", help="Staff: the customer (default: the operator's own use)."
    ),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
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
    api = remote.client()
    if api is not None:
        out = api.create_lease(request, idempotency_key=idempotency_key, organization=organization)
    else:
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
    _show(out, output_format(as_json, output))


@app.command("list")
def list_leases(
    status: LeaseStatus | None = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Leases, newest first (a renter's: its own organization's)."""
    api = remote.client()
    if api is not None:
        page = api.leases(status=status, limit=limit)
        rows, total = page.items, page.total
    else:
        with open_session() as session:
            leases, total = service.list_leases(session, limit=limit, status=status)
            rows = [service.lease_out(lease) for lease in leases]
    footer = f"{len(rows)} of {total}\n"
    show_table(rows, rows, COLUMNS, output_format(as_json, output), wide, footer)


@app.command("show")
def show(
    lease_id: int, as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION
) -> None:
    """One lease and its events."""
    api = remote.client()
    if api is not None:
        lease, events = api.lease(lease_id), api.lease_events(lease_id)
    else:
        with open_session() as session:
            lease = service.lease_out(service.get_lease(session, lease_id))
            lease = billing.with_cost(session, [lease])[0]
            events = [service.event_out(e) for e in service.lease_events(session, lease_id)]
    data = lease.model_dump(mode="json") | {"events": [e.model_dump(mode="json") for e in events]}
    emit(data, output_format(as_json, output), lambda: lease_text(lease, events))


@app.command("extend")
def extend(
    lease_id: int,
    hours: Decimal | None = typer.Option(None, help="Move the end this much later."),
    end: datetime | None = typer.Option(None, help="The new end (UTC)."),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """Move a lease's end later."""
    change = EndChange(hours=hours, end=cli_time(end))
    _move(lease_id, change, True, output_format(as_json, output))


@app.command("shorten")
def shorten(
    lease_id: int,
    hours: Decimal | None = typer.Option(None, help="Move the end this much earlier."),
    end: datetime | None = typer.Option(None, help="The new end (UTC)."),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """Move a lease's end earlier."""
    change = EndChange(hours=hours, end=cli_time(end))
    _move(lease_id, change, False, output_format(as_json, output))


def _move(lease_id: int, change: EndChange, longer: bool, fmt: OutputFormat) -> None:
    api = remote.client()
    if api is not None:
        move = api.extend_lease if longer else api.shorten_lease
        _show(move(lease_id, change), fmt)
        return
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
    _show(out, fmt)


@app.command("release")
def release(
    lease_id: int, as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION
) -> None:
    """End an active lease now (one not started yet is cancelled)."""
    out = remote.through_either(
        lambda api: api.release_lease(lease_id),
        lambda session: service.lease_out(
            service.release_lease(session, lease_id, actor=cli_actor())
        ),
    )
    _show(out, output_format(as_json, output))


@app.command("cancel")
def cancel(
    lease_id: int, as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION
) -> None:
    """Cancel a lease that has not started."""
    out = remote.through_either(
        lambda api: api.cancel_lease(lease_id),
        lambda session: service.lease_out(
            service.cancel_lease(session, lease_id, actor=cli_actor())
        ),
    )
    _show(out, output_format(as_json, output))
