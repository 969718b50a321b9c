"""The rendering layer: tables that fit a width without cutting what must stay whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gpurent.cli.render import Column, hours, money, output_width, table, when


@dataclass
class Row:
    id: int
    status: str
    start: datetime
    facility: str
    gpus: list[str]


ROWS = [
    Row(9_223_372_036_854_775_807, "pending_review", datetime(2026, 12, 1, 15, 4, tzinfo=UTC),
        "us-ashburn-1", [f"ash-a100-0{n}/{i}" for n in (1, 2) for i in range(8)]),
    Row(7, "active", datetime(2026, 12, 1, 15, 4, 31, tzinfo=UTC), "de-frankfurt-1", ["fra/0"]),
]  # fmt: skip
COLUMNS: list[Column[Row]] = [
    Column("id", lambda r: str(r.id), right=True),
    Column("status", lambda r: r.status),
    Column("start", lambda r: when(r.start)),
    Column("facility", lambda r: r.facility, priority=1),
    Column("GPUs", lambda r: ", ".join(r.gpus), fold=True),
]


class TestTable:
    def test_at_80_columns_ids_times_and_statuses_stay_whole(self) -> None:
        text = table(ROWS, COLUMNS, width=80)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 80
        assert "9223372036854775807  pending_review  2026-12-01T15:04Z" in lines[1]
        assert "7  active          2026-12-01T15:04:31Z" in text
        # the GPUs column folds onto several lines instead of being cut
        assert "ash-a100-02/7" in text
        assert len(lines) > 3

    def test_less_important_columns_go_before_any_folds(self) -> None:
        roomy = table(ROWS, COLUMNS, width=400)
        assert roomy.splitlines()[0].split() == ["id", "status", "start", "facility", "GPUs"]
        assert len(roomy.splitlines()) == 3
        text = table(ROWS, COLUMNS, width=80)
        assert text.splitlines()[0].split() == ["id", "status", "start", "GPUs"]

    def test_wide_and_pipes_keep_every_column_on_one_line(self) -> None:
        for text in (table(ROWS, COLUMNS, width=40, wide=True), table(ROWS, COLUMNS)):
            assert len(text.splitlines()) == 3
            assert text.splitlines()[0].split() == ["id", "status", "start", "facility", "GPUs"]

    def test_too_narrow_for_the_essentials_overflows_rather_than_cuts(self) -> None:
        text = table(ROWS, COLUMNS, width=20)
        assert "9223372036854775807  pending_review  2026-12-01T15:04Z" in text


class TestValues:
    def test_times_are_compact_utc(self) -> None:
        local = datetime.fromisoformat("2026-12-01T16:04:00+01:00")
        assert when(local) == "2026-12-01T15:04Z"
        assert when(None) == "-"

    def test_money_and_hours_are_rounded(self) -> None:
        assert money(Decimal("9.999999999999999999999999999"), "USD") == "10.00 USD"
        assert money(Decimal("0.125")) == "0.13"
        assert hours(5400) == "1.50 h"


@pytest.mark.parametrize(("columns", "expected"), [("80", 80), ("", None), ("x", None)])
def test_the_width_is_columns_else_none_in_a_pipe(
    monkeypatch: pytest.MonkeyPatch, columns: str, expected: int | None
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert output_width() == expected  # pytest's stdout is no terminal
