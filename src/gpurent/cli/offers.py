"""``gpurent offers``, ``gpurent quote`` and ``gpurent availability``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import typer

from gpurent.cli import remote
from gpurent.cli.common import cli_time, open_session
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
from gpurent.config import load_settings
from gpurent.errors import NotFoundError
from gpurent.leases import search
from gpurent.leases.index import AvailabilityIndex
from gpurent.leases.schemas import WindowOut
from gpurent.offers import service
from gpurent.offers.schemas import OfferOut, QuoteRequest
from gpurent.offers.terms import Term

OFFER_COLUMNS: list[Column[OfferOut]] = [
    Column("model", lambda o: o.gpu_model),
    Column("facility", lambda o: o.facility or "all"),
    Column("on demand", lambda o: money(o.on_demand_hourly, o.currency), right=True),
    Column(
        "interruptible",
        lambda o: money(o.interruptible_hourly, o.currency) if o.interruptible_hourly else "-",
        priority=1,
        right=True,
    ),
    Column(
        "reserved",
        lambda o: ", ".join(f"{m} mo: {money(p)}" for m, p in o.reserved.items()) or "-",
        priority=2,
        fold=True,
    ),
    Column("class", lambda o: o.classification, priority=3),
]

WINDOW_COLUMNS: list[Column[WindowOut]] = [
    Column("start", lambda w: when(w.start)),
    Column("end", lambda w: when(w.end)),
    Column("facility", lambda w: f"{w.facility} ({w.country})"),
    Column(
        "price",
        lambda w: money(w.quote.total, w.quote.currency) if w.quote else "-",
        priority=1,
        right=True,
    ),
    Column("GPUs", lambda w: ", ".join(w.gpu_addresses), priority=2, fold=True),
]


def offers(
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Prices per GPU-hour, by model (and facility where it differs)."""
    rows = remote.through_either(lambda api: api.offers(), service.list_offers)
    show_table(rows, rows, OFFER_COLUMNS, output_format(as_json, output), wide)


def quote(
    gpu_model: str = typer.Argument(..., help="GPU model, e.g. A100-80GB."),
    gpus: int = typer.Argument(..., min=1),
    hours: Decimal | None = typer.Option(None, help="Duration (not for reserved terms)."),
    term: Term = typer.Option(Term.ON_DEMAND),
    months: int | None = typer.Option(None, help="Reserved term length."),
    facility: str | None = typer.Option(None),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """The price of N GPUs for a duration under a term, with its breakdown."""
    request = QuoteRequest(
        gpu_model=gpu_model, gpus=gpus, hours=hours, term=term, months=months, facility=facility
    )
    api = remote.client()
    if api is not None:
        result = api.quote(request)
    else:
        with open_session() as session:
            result = service.quote(session, request)
    lines = [f"  {line.description}" for line in result.lines]
    text = "\n".join([*lines, f"total: {money(result.total, result.currency)}"]) + "\n"
    emit(result, output_format(as_json, output), lambda: text)


def _check_offered(gpu_model: str) -> None:
    """No window at all: say so when the model cannot be booked here, rather than that
    the horizon is full."""
    api = remote.client()
    if api is not None:
        offered = api.offers()
    else:
        with open_session() as session:
            offered = service.list_offers(session)
    if gpu_model not in {offer.gpu_model for offer in offered}:
        raise NotFoundError(
            f"no {gpu_model} is offered here (gpurent offers lists what can be booked)",
            fields=["gpu_model"],
        )


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
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """The earliest windows for N GPUs of a model, each placed and priced."""
    api = remote.client()
    if api is not None:
        windows = api.availability(
            gpu_model, gpus, hours, after=cli_time(after), facility=facility,
            country=country, term=term, limit=limit,
        )  # fmt: skip
    else:
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
    if not windows:
        _check_offered(gpu_model)
    fmt = output_format(as_json, output)
    if not windows and fmt is OutputFormat.TABLE:
        emit(windows, fmt, lambda: "no window within the search horizon\n")
        return
    show_table(windows, windows, WINDOW_COLUMNS, fmt, wide)
