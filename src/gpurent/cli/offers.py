"""``gpurent offers``, ``gpurent quote`` and ``gpurent availability``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import typer
from rich.table import Table

from gpurent.cli.common import JSON_OPTION, cli_time, console, open_session, print_json
from gpurent.config import load_settings
from gpurent.leases import search
from gpurent.leases.index import AvailabilityIndex
from gpurent.offers import service
from gpurent.offers.schemas import QuoteRequest
from gpurent.offers.terms import Term


def offers(as_json: bool = JSON_OPTION) -> None:
    """Prices per GPU-hour, by model (and facility where it differs)."""
    with open_session() as session:
        rows = service.list_offers(session)
    if as_json:
        print_json(rows)
        return
    table = Table("model", "facility", "on demand", "interruptible", "reserved", "class")
    for offer in rows:
        reserved = ", ".join(f"{m} mo: {p}" for m, p in offer.reserved.items()) or "-"
        table.add_row(
            offer.gpu_model,
            offer.facility or "all",
            f"{offer.on_demand_hourly} {offer.currency}",
            f"{offer.interruptible_hourly} {offer.currency}" if offer.interruptible_hourly else "-",
            reserved,
            offer.classification,
        )
    console.print(table)


def quote(
    gpu_model: str = typer.Argument(..., help="GPU model, e.g. A100-80GB."),
    gpus: int = typer.Argument(..., min=1),
    hours: Decimal | None = typer.Option(None, help="Duration (not for reserved terms)."),
    term: Term = typer.Option(Term.ON_DEMAND),
    months: int | None = typer.Option(None, help="Reserved term length."),
    facility: str | None = typer.Option(None),
    as_json: bool = JSON_OPTION,
) -> None:
    """The price of N GPUs for a duration under a term, with its breakdown."""
    request = QuoteRequest(
        gpu_model=gpu_model, gpus=gpus, hours=hours, term=term, months=months, facility=facility
    )
    with open_session() as session:
        result = service.quote(session, request)
    if as_json:
        print_json(result)
        return
    for line in result.lines:
        console.print(f"  {line.description}", markup=False)
    console.print(f"total: [bold]{result.total} {result.currency}[/bold]")


def availability(
    gpu_model: str = typer.Argument(...),
    gpus: int = typer.Argument(..., min=1),
    hours: Decimal = typer.Option(..., help="How long the GPUs are needed."),
    after: datetime | None = typer.Option(None, help="Earliest start (UTC), default now."),
    facility: str | None = typer.Option(None),
    country: str | None = typer.Option(None),
    term: Term = typer.Option(Term.ON_DEMAND),
    limit: int = typer.Option(3, min=1, max=20),
    as_json: bool = JSON_OPTION,
) -> None:
    """The earliest windows for N GPUs of a model, each placed and priced."""
    settings = load_settings()
    with open_session() as session:
        windows = search.find_windows(
            session,
            AvailabilityIndex(),
            gpu_model=gpu_model,
            gpus=gpus,
            hours=hours,
            after=cli_time(after),
            facility=facility,
            country=country,
            term=term,
            limit=limit,
            horizon=timedelta(days=settings.availability_horizon_days),
        )
    if as_json:
        print_json(windows)
        return
    table = Table("start", "end", "facility", "GPUs", "price")
    for window in windows:
        price = f"{window.quote.total} {window.quote.currency}" if window.quote else "-"
        table.add_row(
            window.start.isoformat(timespec="minutes"),
            window.end.isoformat(timespec="minutes"),
            f"{window.facility} ({window.country})",
            ", ".join(window.gpu_addresses),
            price,
        )
    console.print(table if windows else "no window within the search horizon")
