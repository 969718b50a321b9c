"""``gpurent fleet``: import, list and show the inventory; change GPU states."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress
from sqlalchemy.orm import Session

from gpurent.catalog import service as catalog
from gpurent.cli import remote
from gpurent.cli.common import (
    JSON_OPTION,
    cli_actor,
    console,
    err_console,
    open_session,
    print_json,
)
from gpurent.cli.remote import local_only
from gpurent.cli.render import (
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    output_format,
    show_table,
    when,
)
from gpurent.client import GpurentClient
from gpurent.errors import InvalidInputError, NotFoundError
from gpurent.fleet import service
from gpurent.fleet.fleetfile import parse_fleet_text, read_fleet_file
from gpurent.fleet.importer import gpu_count, import_fleet
from gpurent.fleet.schemas import FacilityOut, GpuEventOut, GpuOut, NodeOut
from gpurent.fleet.states import GpuState
from gpurent.jobs.backends.base import BackendError
from gpurent.jobs.slurm_fleet import fleet_text_from_slurm
from gpurent.leases import service as lease_service

app = typer.Typer(help="Facilities, nodes and GPUs.", no_args_is_help=True)

PROGRESS_FROM = 500  # GPUs: smaller files import too fast for a progress bar


@app.command("import")
def import_file(
    path: Path | None = typer.Argument(None, help="Fleet file (YAML)."),
    prune: bool = typer.Option(False, help="Retire GPUs that the file no longer lists."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the changes, write nothing."),
    from_slurm: bool = typer.Option(
        False, "--from-slurm", help="Read the nodes and GPUs of the Slurm cluster (sinfo/scontrol)."
    ),
    facility: str = typer.Option("slurm-1", help="With --from-slurm: the facility's name."),
    country: str = typer.Option("US", help="With --from-slurm: the facility's country."),
    city: str = typer.Option("unknown", help="With --from-slurm: the facility's city."),
    gpu_model: str | None = typer.Option(
        None, help="With --from-slurm: the catalog model of its GPUs (default: from gres)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply a fleet file (or a Slurm cluster's nodes) as a diff: a bad file changes nothing."""
    local_only("gpurent fleet import (it reads a file or a cluster on the server's host)")
    if from_slurm:
        try:
            text = fleet_text_from_slurm(facility, country, city, gpu_model)
        except BackendError as exc:
            raise InvalidInputError(f"cannot read the Slurm cluster: {exc}") from exc
        document = parse_fleet_text(text, "slurm")
        path = Path("slurm")
    elif path is None:
        raise InvalidInputError("name a fleet file, or give --from-slurm")
    else:
        document = read_fleet_file(path)
    total = gpu_count(document)
    with (
        open_session() as session,
        Progress(console=err_console, transient=True, disable=total < PROGRESS_FROM) as bar,
    ):
        task = bar.add_task(f"importing {path.name}", total=total)
        report = import_fleet(
            session,
            document,
            actor=cli_actor(),
            prune=prune,
            dry_run=dry_run,
            progress=lambda done: bar.advance(task, done),
        )
    if as_json:
        print_json(report.model_dump(mode="json") | {"total": report.total})
        return
    for line in report.changes:
        console.print(line, markup=False)
    outcome = "to apply (dry run, nothing written)" if dry_run else "applied"
    console.print(f"{path}: {report.total} change(s) {outcome}")
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", markup=False)


@app.command("list")
def list_fleet(
    gpus: bool = typer.Option(False, "--gpus", help="List GPUs instead of nodes."),
    facility: str | None = typer.Option(None, help="Only this facility."),
    model: str | None = typer.Option(None, help="Only GPUs of this model (with --gpus)."),
    state: GpuState | None = typer.Option(None, help="Only GPUs in this state (with --gpus)."),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Nodes with their GPUs by model and state, or (--gpus) every GPU."""
    view = (output_format(as_json, output), wide)
    api = remote.client()
    if api is not None:
        # A filter that names nothing is a mistake, not an empty fleet: the lookups raise.
        if facility:
            api.facility(facility)
        if model:
            api.gpu_model(model)
        if gpus:
            _show_gpus(list(api.iter_gpus(facility=facility, model=model, state=state)), *view)
        else:
            _show_nodes(api.nodes(facility), *view)
        return
    with open_session() as session:
        if facility:
            service.get_facility(session, facility)
        if model:
            catalog.get_model(session, model)
        if gpus:
            where = service.GpuFilter(facility=facility, model=model, state=state)
            rows, _total = service.list_gpus(session, where, limit=1_000_000)
            gpu_list = [GpuOut.of(gpu) for gpu in rows]
        else:
            node_list = [
                NodeOut.of(node) for node in service.list_nodes(session, facility=facility)
            ]
    if gpus:
        _show_gpus(gpu_list, *view)
    else:
        _show_nodes(node_list, *view)


GPU_COLUMNS: list[Column[GpuOut]] = [
    Column("id", lambda g: str(g.id), right=True),
    Column("gpu", lambda g: g.address),
    Column("model", lambda g: g.model),
    Column("state", lambda g: g.state.value),
    Column("facility", lambda g: g.facility, priority=1),
    Column("serial", lambda g: g.serial, priority=2),
]


def _show_gpus(gpus: list[GpuOut], fmt: OutputFormat, wide: bool = False) -> None:
    show_table(gpus, gpus, GPU_COLUMNS, fmt, wide)


def _summary(node: NodeOut) -> str:
    counts: dict[tuple[str, str], int] = {}
    for gpu in node.gpus:
        counts[gpu.model, gpu.state] = counts.get((gpu.model, gpu.state), 0) + 1
    return ", ".join(f"{n} x {model} {state}" for (model, state), n in sorted(counts.items()))


NODE_COLUMNS: list[Column[NodeOut]] = [
    Column("node", lambda n: n.name),
    Column("facility", lambda n: n.facility),
    Column("gpus", _summary, fold=True),
    Column("country", lambda n: n.country, priority=1),
    Column("interconnect", lambda n: n.interconnect_domain or "-", priority=2),
    Column("cpus", lambda n: str(n.cpu_cores), priority=3, right=True),
    Column("memory", lambda n: f"{n.memory_gb} GB", priority=4, right=True),
]


def _show_nodes(nodes: list[NodeOut], fmt: OutputFormat, wide: bool = False) -> None:
    show_table(nodes, nodes, NODE_COLUMNS, fmt, wide)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A facility, a node, or a GPU (id, node/index, serial)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One facility, node or GPU (a GPU with its state history)."""
    api = remote.client()
    if api is not None:
        _remote_show(api, name, as_json)
        return
    with open_session() as session:
        for finder in (_facility_view, _node_view):
            try:
                finder(session, name, as_json)
                return
            except NotFoundError:
                continue
        _gpu_view(session, name, as_json)


def _remote_show(api: GpurentClient, name: str, as_json: bool) -> None:
    try:
        _print_facility(api.facility(name), api.nodes(name), as_json)
        return
    except NotFoundError:
        pass
    try:
        _print_node(api.node(name), as_json)
        return
    except NotFoundError:
        pass
    gpu = api.gpu(name)
    _print_gpu(gpu, api.gpu_events(gpu.id), as_json)


def _facility_view(session: Session, name: str, as_json: bool) -> None:
    facility = FacilityOut.of(service.get_facility(session, name))
    nodes = [NodeOut.of(n) for n in service.list_nodes(session, facility=name)]
    _print_facility(facility, nodes, as_json)


def _print_facility(facility: FacilityOut, nodes: list[NodeOut], as_json: bool) -> None:
    if as_json:
        node_list = [n.model_dump(mode="json") for n in nodes]
        print_json(facility.model_dump(mode="json") | {"node_list": node_list})
        return
    console.print(f"[bold]{facility.name}[/bold]: {facility.city}, {facility.country}")
    _show_nodes(nodes, OutputFormat.TABLE)


def _node_view(session: Session, name: str, as_json: bool) -> None:
    _print_node(NodeOut.of(service.get_node(session, name)), as_json)


def _print_node(node: NodeOut, as_json: bool) -> None:
    if as_json:
        print_json(node)
        return
    console.print(
        f"[bold]{node.name}[/bold] in {node.facility} ({node.country}): "
        f"{node.cpu_cores} CPUs, {node.memory_gb} GB, "
        f"interconnect {node.interconnect_domain or '-'}"
    )
    _show_gpus(node.gpus, OutputFormat.TABLE)


def _gpu_view(session: Session, reference: str, as_json: bool) -> None:
    row = service.get_gpu(session, reference)
    gpu = GpuOut.of(row)
    events = [GpuEventOut.of(e) for e in service.gpu_events(session, row)]
    _print_gpu(gpu, events, as_json)


def _print_gpu(gpu: GpuOut, events: list[GpuEventOut], as_json: bool) -> None:
    if as_json:
        history = [e.model_dump(mode="json") for e in events]
        print_json(gpu.model_dump(mode="json") | {"events": history})
        return
    console.print(
        f"[bold]GPU {gpu.address}[/bold] (id {gpu.id}) {gpu.model}, serial {gpu.serial}, "
        f"in {gpu.facility}: {gpu.state}"
    )
    columns: list[Column[GpuEventOut]] = [
        Column("at", lambda e: when(e.at)),
        Column("from", lambda e: e.from_state or "-"),
        Column("to", lambda e: e.to_state),
        Column("by", lambda e: e.actor, priority=1),
        Column("reason", lambda e: e.reason, fold=True),
    ]
    show_table(events, events, columns, OutputFormat.TABLE, False)


@app.command("set-state")
def set_state(
    gpu: str = typer.Argument(..., help="GPU id, node/index or serial."),
    state: GpuState = typer.Argument(..., help="The new state."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded with the event."),
    force: bool = typer.Option(False, "--force", help="Even though a running lease holds it."),
) -> None:
    """Change a GPU's state (recorded as an event). A GPU that a running lease holds goes
    into maintenance, failed or retired only with --force (the error names the lease)."""
    api = remote.client()
    if api is not None:
        changed_gpu = api.set_gpu_state(gpu, state, reason, force=force)
        console.print(f"GPU {changed_gpu.address} is now {state}")
        return
    with open_session() as session:
        if not force:
            found = service.get_gpu(session, gpu)
            lease_service.refuse_if_held(session, found.id, found.address, state)
        changed = service.set_gpu_state(session, gpu, state, reason=reason, actor=cli_actor())
        address = changed.address
    console.print(f"GPU {address} is now {state}")
