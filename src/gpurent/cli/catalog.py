"""``gpurent catalog``: GPU models and their export classification."""

from __future__ import annotations

import typer
from rich.table import Table

from gpurent.catalog import service
from gpurent.cli.common import JSON_OPTION, console, open_session, print_json

app = typer.Typer(help="GPU models and their export-control classification.", no_args_is_help=True)


@app.command("list")
def list_models(as_json: bool = JSON_OPTION) -> None:
    """Every GPU model with its TPP, density and ECCN 3A090 class."""
    with open_session() as session:
        models = [service.describe(model) for model in service.list_models(session)]
    if as_json:
        print_json(models)
        return
    table = Table("model", "vendor", "memory", "TPP", "PD", "data centre", "class", "source")
    for model in models:
        density = "-" if model.performance_density is None else f"{model.performance_density:g}"
        paragraphs = ", ".join(model.classification_paragraphs)
        table.add_row(
            model.name,
            model.vendor,
            f"{model.memory_gb} GB",
            f"{model.tpp:g}",
            density,
            "yes" if model.data_center else "no",
            model.classification + (f" ({paragraphs})" if paragraphs else ""),
            model.source,
        )
    console.print(table)


@app.command("show")
def show_model(name: str, as_json: bool = JSON_OPTION) -> None:
    """One GPU model, with the arithmetic behind its classification."""
    with open_session() as session:
        model = service.describe(service.get_model(session, name))
    if as_json:
        print_json(model)
        return
    rates = ", ".join(f"{k} {v:g}" for k, v in model.dense_rates.items())
    area = "unpublished" if model.die_area_mm2 is None else f"{model.die_area_mm2:g} mm^2"
    if model.die_area_estimated:
        area += " (estimate)"
    console.print(f"[bold]{model.name}[/bold] ({model.vendor}, {model.memory_gb} GB)")
    console.print(f"data centre: {'yes' if model.data_center else 'no'}   die: {area}")
    console.print(f"dense rates (TFLOPS/TOPS): {rates}")
    console.print(f"rule: {model.rule}")
    for line in model.arithmetic:
        console.print(f"  {line}")
