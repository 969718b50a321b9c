"""``gpurent lists``: import restricted-party lists and see which versions are in force;
``gpurent screen``: screen names against them."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from gpurent.cli import remote
from gpurent.cli.common import JSON_OPTION, cli_actor, console, err_console, open_session
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
from gpurent.config import load_settings
from gpurent.errors import FileFormatError, GpurentError, InvalidInputError
from gpurent.lists import service
from gpurent.lists.schemas import (
    MAX_BATCH,
    ListVersionOut,
    MatchOut,
    ScreeningOut,
    ScreeningQuery,
)
from gpurent.screening import ListEntry, ListFormat, Match, ParsedList

app = typer.Typer(help="Restricted-party lists: import and inspect.", no_args_is_help=True)

PROGRESS_FROM_BYTES = 1_000_000  # smaller files read too fast for a progress bar


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


@app.command("import")
def import_lists(
    paths: list[Path] = typer.Argument(None, help="List files, or folders holding one list."),
    fmt: ListFormat | None = typer.Option(
        None, "--format", help="Format of every PATH (detected when not given)."
    ),
    bundled: bool = typer.Option(
        False, "--bundled", help="Import the bundled Entity List excerpt (China AI parties)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import lists as new versions; a malformed file imports nothing."""
    local_only("gpurent lists import (it reads files on the server's host)")
    paths = paths or []
    if not paths and not bundled:
        raise InvalidInputError("name list files or folders, or give --bundled")
    parsed: list[ParsedList] = []
    if bundled:
        parsed.append(service.read_bundled())
    size = sum(_size(p) for p in paths)
    with _bar() as bar:
        task = bar.add_task("reading lists", total=size, visible=size >= PROGRESS_FROM_BYTES)
        offsets: dict[str, int] = {}

        def progress(done: int, total: int, _key: list[str] = []) -> None:  # noqa: B006
            bar.update(task, completed=sum(offsets.values()) + done)

        for path in paths:
            parsed.extend(service.read_files([path], fmt, progress))
            offsets[str(path)] = _size(path)
    with open_session() as session:
        result = service.import_versions(session, parsed, cli_actor())
        out = [ListVersionOut.of(v) for v in result.versions]
        new = {v.id for v in result.created}
        changed = service.changes(session, result.created) if result.created else None
    for version in out:
        if version.id not in new:
            err_console.print(
                f"{version.title} [{version.dataset}]: unchanged, version {version.id} stays in "
                "force (these files are the ones it was imported from); nothing imported",
                markup=False,
            )
    if changed is not None:
        _rescreen(changed, quiet=as_json, versions=sorted(new))
    if as_json:
        sys.stdout.write(json.dumps([v.model_dump(mode="json") for v in out], indent=2) + "\n")
        return
    for version in out:
        if version.id in new:
            console.print(
                f"{version.title} [{version.dataset}]: version {version.id} in force, "
                f"{version.entry_count} entries, {version.link_count} ownership links",
                markup=False,
            )


def _rescreen(changed: tuple[list[ListEntry], set[str]], quiet: bool, versions: list[int]) -> None:
    """A new list version can change any customer's standing. The import has committed by
    now: a failed rescreen says that the versions are in force and how to finish."""
    from gpurent.cli.compliance import run_rescreen

    try:
        run_rescreen(quiet=quiet, changed=changed)
    except (GpurentError, SQLAlchemyError) as exc:
        err_console.print(
            f"error: list version(s) {', '.join(map(str, versions))} imported and in force, "
            f"but rescreening the customers failed: {exc}\n"
            "run `gpurent compliance rescreen` to finish (importing the same files again "
            "adds nothing)",
            markup=False,
        )
        raise typer.Exit(1) from exc


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size if path.exists() else 0


@app.command("show")
def show(
    history: bool = typer.Option(
        False, "--history", help="Every version, not only those in force."
    ),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """The list versions in force (or every version with --history)."""
    api = remote.client()
    if api is not None:
        out = api.lists(history=history)
    else:
        with open_session() as session:
            versions = (
                service.version_history(session) if history else service.current_versions(session)
            )
            out = [ListVersionOut.of(v) for v in versions]
    fmt = output_format(as_json, output)
    if not out and fmt is OutputFormat.TABLE:
        console.print("No list imported yet: gpurent lists import PATH... or --bundled")
        return
    show_table(out, out, VERSION_COLUMNS, fmt, wide)


VERSION_COLUMNS: list[Column[ListVersionOut]] = [
    Column("version", lambda v: str(v.id), right=True),
    Column("dataset", lambda v: v.dataset),
    Column("", lambda v: "in force" if v.current else "superseded"),
    Column("entries", lambda v: str(v.entry_count), right=True),
    Column("imported", lambda v: when(v.imported_at)),
    Column("list", lambda v: v.title, priority=1, fold=True),
    Column("format", lambda v: v.format, priority=2),
    Column("links", lambda v: str(v.link_count), priority=3, right=True),
]


def _queries(batch: Path) -> list[ScreeningQuery]:
    try:
        with batch.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "name" not in reader.fieldnames:
                raise FileFormatError(str(batch), [(f"{batch}:1", "needs a `name` column")])
            queries = []
            for record in reader:
                try:
                    queries.append(
                        ScreeningQuery(name=record["name"] or "", country=record.get("country"))
                    )
                except ValueError as exc:
                    problem = str(exc).splitlines()[-1].strip() if str(exc) else "invalid row"
                    raise FileFormatError(
                        str(batch), [(f"{batch}:{reader.line_num}", problem)]
                    ) from exc
            return queries
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(str(batch), [(str(batch), str(exc))]) from exc


def _result(query: ScreeningQuery, matches: list[Match]) -> ScreeningOut:
    return ScreeningOut(
        query=query.name, country=query.country, matches=[MatchOut.of(m) for m in matches]
    )


def screen(
    name: str | None = typer.Argument(None, help="Name to screen."),
    country: str | None = typer.Option(None, help="ISO country code of the party."),
    batch: Path | None = typer.Option(
        None, "--batch", help="CSV file with a `name` and an optional `country` column."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Screen a name (or a CSV of names) against the lists in force."""
    if (name is None) == (batch is None):
        raise InvalidInputError("give a NAME or --batch FILE.csv")
    queries = _queries(batch) if batch else [ScreeningQuery(name=name or "", country=country)]
    threshold = load_settings().screening_threshold
    results: list[ScreeningOut] = []
    api = remote.client()
    if api is not None:
        for start in range(0, len(queries), MAX_BATCH):
            results += api.screen_batch(queries[start : start + MAX_BATCH]).results
    else:
        with open_session() as session:
            screener = service.screener(session, threshold)
            with Progress(console=err_console, transient=True, disable=len(queries) < 50) as bar:
                task = bar.add_task("screening", total=len(queries))
                for query in queries:
                    results.append(_result(query, screener.screen(query.name, query.country)))
                    bar.advance(task)
    if as_json:
        for result in results:
            sys.stdout.write(json.dumps(result.model_dump(mode="json")) + "\n")
        return
    for result in results:
        _print_result(result)


def _print_result(result: ScreeningOut) -> None:
    where = f" ({result.country})" if result.country else ""
    if not result.matches:
        console.print(f"{result.query}{where}: no candidate on the lists in force", markup=False)
        return
    table = Table(title=f"{result.query}{where}", title_justify="left")
    for column in ("score", "match", "list", "entry", "name", "matched name", "why"):
        table.add_column(column)
    for m in result.matches:
        pairs = ", ".join(f"{p['query']}~{p['list']}" for p in m.explanation["pairs"])
        why = "; ".join([pairs, *m.explanation["adjustments"]])
        table.add_row(
            f"{m.score:.2f}",
            "MATCH" if m.is_match else "possible",
            m.list_,
            m.entry_id,
            m.name,
            m.matched_name,
            why,
        )
    console.print(table)
