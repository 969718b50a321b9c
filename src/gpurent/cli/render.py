"""One rendering layer for every command, local or remote: tables that fit, JSON, YAML.

Tables fit the output's width by dropping the least important columns first (``--wide``
keeps them all), then by folding the columns marked foldable (lists of GPUs, names);
identifiers, times, statuses and amounts are never cut. The width is ``COLUMNS`` when
set, else the terminal's; a pipe with no ``COLUMNS`` gets every column, plain and stable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

import typer
import yaml
from pydantic import BaseModel

T = TypeVar("T")
GAP = "  "
MIN_FOLD = 12  # a folded column keeps at least this many characters a line


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


JSON_OPTION = typer.Option(False, "--json", help="Print JSON (same as --output json).")
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="table (default), json or yaml.")
WIDE_OPTION = typer.Option(False, "--wide", help="Show every column, however wide.")


@dataclass(frozen=True)
class Column(Generic[T]):
    """A table column: its header, its text for a row, and how it gives way.

    ``priority`` 0 is never dropped; higher numbers are dropped first when the table is
    too wide. ``fold`` columns may wrap onto more lines (at spaces, then anywhere)."""

    header: str
    text: Callable[[T], str]
    priority: int = 0
    fold: bool = False
    right: bool = False


def output_format(as_json: bool, output: OutputFormat | None) -> OutputFormat:
    return OutputFormat.JSON if as_json else (output or OutputFormat.TABLE)


def output_width() -> int | None:
    """The width tables must fit: COLUMNS, else the terminal's; None in a plain pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _fit(widths: list[int], columns: Sequence[Column[Any]], width: int | None) -> list[int]:
    """Indexes of the columns kept, dropping the least important until the table fits
    (what still does not fit once only essential columns are left is folded)."""
    kept = list(range(len(columns)))

    def total(indexes: list[int]) -> int:
        return sum(widths[i] for i in indexes) + len(GAP) * (len(indexes) - 1)

    if width is None:
        return kept
    droppable = sorted(
        (i for i in kept if columns[i].priority > 0), key=lambda i: -columns[i].priority
    )
    for index in droppable:
        if total(kept) <= width:
            break
        kept.remove(index)
    return kept


def _fold(
    widths: list[int], kept: list[int], columns: Sequence[Column[Any]], width: int | None
) -> dict[int, int]:
    """The width of each kept column once the foldable ones share what is left."""
    sizes = {i: widths[i] for i in kept}
    if width is None:
        return sizes
    excess = sum(sizes.values()) + len(GAP) * (len(kept) - 1) - width
    for i in sorted((i for i in kept if columns[i].fold), key=lambda i: -sizes[i]):
        if excess <= 0:
            break
        give = min(excess, sizes[i] - min(sizes[i], MIN_FOLD))
        sizes[i] -= give
        excess -= give
    return sizes


def _lines(text: str, size: int, fold: bool) -> list[str]:
    if not fold or len(text) <= size:
        return [text]
    return textwrap.wrap(text, size, break_on_hyphens=False) or [""]


def table(
    rows: Sequence[T], columns: Sequence[Column[T]], *, wide: bool = False, width: int | None = None
) -> str:
    """The rows as a plain text table fitting ``width`` (None: no limit)."""
    cells = [[column.text(row) for column in columns] for row in rows]
    widths = [max([len(c.header)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    limit = None if wide else width
    kept = _fit(widths, columns, limit)
    sizes = _fold(widths, kept, columns, limit)
    out = []
    for values in [[c.header for c in columns], *cells]:
        parts = {i: _lines(values[i], sizes[i], columns[i].fold) for i in kept}
        for n in range(max(len(p) for p in parts.values())):
            line = []
            for i in kept:
                piece = parts[i][n] if n < len(parts[i]) else ""
                line.append(piece.rjust(sizes[i]) if columns[i].right else piece.ljust(sizes[i]))
            out.append(GAP.join(line).rstrip())
    return "\n".join(out) + "\n"


def jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", by_alias=True)
    if isinstance(data, list | tuple):
        return [jsonable(item) for item in data]
    if isinstance(data, dict):
        return {key: jsonable(value) for key, value in data.items()}
    return data


def emit(data: Any, fmt: OutputFormat, text: Callable[[], str]) -> None:
    """Print the data as JSON or YAML, or as the text ``text()`` renders."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.YAML:
        sys.stdout.write(yaml.safe_dump(jsonable(data), sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(text())
    sys.stdout.flush()


def show_table(
    data: Any,
    rows: Sequence[T],
    columns: Sequence[Column[T]],
    fmt: OutputFormat,
    wide: bool,
    footer: str = "",
) -> None:
    """A listing: JSON/YAML of ``data``, or the table of ``rows`` (and a footer line)."""
    emit(data, fmt, lambda: table(rows, columns, wide=wide, width=output_width()) + footer)


def when(moment: datetime | None) -> str:
    """A time, compact and in UTC: 2026-12-01T15:04Z (seconds shown when not zero)."""
    if moment is None:
        return "-"
    moment = moment.astimezone(UTC)
    spec = "minutes" if moment.second == 0 and moment.microsecond == 0 else "seconds"
    return moment.replace(tzinfo=None, microsecond=0).isoformat(timespec=spec) + "Z"


def money(amount: Decimal | None, currency: str = "") -> str:
    """An amount rounded to cents, with its currency."""
    if amount is None:
        return "-"
    rounded = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{rounded} {currency}".strip()


def hours(seconds: int | float | Decimal) -> str:
    """GPU-seconds as hours, to two decimals."""
    value = (Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value} h"


def say(text: str) -> None:
    """A line of plain text on stdout (never styled, never wrapped)."""
    sys.stdout.write(text + "\n")
