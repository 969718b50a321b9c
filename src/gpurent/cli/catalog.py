"""``gpurent catalog``: GPU models and their export classification."""

from __future__ import annotations

import typer

from gpurent.catalog import service
from gpurent.catalog.schemas import GpuModelOut
from gpurent.cli import remote
from gpurent.cli.render import (
    JSON_OPTION,
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    emit,
    output_format,
    show_table,
)

app = typer.Typer(help="GPU models and their export-control classification.", no_args_is_help=True)


def _class(model: GpuModelOut) -> str:
    paragraphs = ", ".join(model.classification_paragraphs)
    return model.classification + (f" ({paragraphs})" if paragraphs else "")


COLUMNS: list[Column[GpuModelOut]] = [
    Column("model", lambda m: m.name),
    Column("class", _class, fold=True),
    Column("TPP", lambda m: f"{m.tpp:g}", right=True),
    Column(
        "PD",
        lambda m: "-" if m.performance_density is None else f"{m.performance_density:g}",
        priority=1,
        right=True,
    ),
    Column("memory", lambda m: f"{m.memory_gb} GB", priority=2, right=True),
    Column("vendor", lambda m: m.vendor, priority=3),
    Column("data centre", lambda m: "yes" if m.data_center else "no", priority=4),
    Column("source", lambda m: m.source, priority=5),
]


@app.command("list")
def list_models(
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Every GPU model with its TPP, density and ECCN 3A090 class."""
    models = remote.through_either(
        lambda api: api.gpu_models(),
        lambda session: [service.describe(model) for model in service.list_models(session)],
    )
    show_table(models, models, COLUMNS, output_format(as_json, output), wide)


def model_text(model: GpuModelOut) -> str:
    rates = ", ".join(f"{k} {v:g}" for k, v in model.dense_rates.items())
    area = "unpublished" if model.die_area_mm2 is None else f"{model.die_area_mm2:g} mm^2"
    if model.die_area_estimated:
        area += " (estimate)"
    lines = [
        f"{model.name} ({model.vendor}, {model.memory_gb} GB)",
        f"data centre: {'yes' if model.data_center else 'no'}   die: {area}",
        f"dense rates (TFLOPS/TOPS): {rates}",
        f"rule: {model.rule}",
        *(f"  {line}" for line in model.arithmetic),
    ]
    return "\n".join(lines) + "\n"


@app.command("show")
def show_model(
    name: str, as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION
) -> None:
    """One GPU model, with the arithmetic behind its classification."""
    model = remote.through_either(
        lambda api: api.gpu_model(name),
        lambda session: service.describe(service.get_model(session, name)),
    )
    emit(model, output_format(as_json, output), lambda: model_text(model))
