"""OFAC's legacy CSV files: the main file with its alias, address and remarks files.

The SDN set is `sdn.csv`, `alt.csv`, `add.csv`, `sdn_comments.csv`; the non-SDN
consolidated set is `cons_prim.csv`, `cons_alt.csv`, `cons_add.csv`, `cons_comments.csv`.
No header; `-0-` means empty; the files end with a 0x1A byte.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from gpurent.screening.entries import Address, ListEntry, ParsedList, PartyType

from .common import check_complete, clean, country_code, open_text
from .errors import ListFormatError, Progress

MAIN_FIELDS = 12
SETS = {
    "sdn": ("ofac-sdn", "OFAC SDN", "alt.csv", "add.csv", "sdn_comments.csv"),
    "cons_prim": (
        "ofac-cons",
        "OFAC Consolidated (non-SDN)",
        "cons_alt.csv",
        "cons_add.csv",
        "cons_comments.csv",
    ),
}
PARTY_TYPES = {
    "individual": PartyType.INDIVIDUAL,
    "vessel": PartyType.VESSEL,
    "aircraft": PartyType.AIRCRAFT,
}


def _value(raw: str) -> str | None:
    raw = raw.strip()
    return None if raw in ("-0-", "") else raw


def _rows(path: Path, fields: int, progress: Progress | None) -> Iterator[tuple[int, list[str]]]:
    check_complete(path)
    with open_text(path, progress, encoding="utf-8") as f:
        reader = csv.reader(f, strict=True)
        try:
            for row in reader:
                if not row or (len(row) == 1 and row[0].strip() in ("", "\x1a")):
                    continue
                if len(row) != fields:
                    raise ListFormatError(
                        path, reader.line_num, f"expected {fields} fields, found {len(row)}"
                    )
                yield reader.line_num, row
        except csv.Error as exc:
            raise ListFormatError(path, reader.line_num, f"malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ListFormatError(path, reader.line_num, f"not UTF-8 text: {exc.reason}") from exc


def _ent_num(path: Path, line: int, raw: str) -> str:
    value = raw.strip()
    if not value.isdigit():
        raise ListFormatError(path, line, f"ent_num {value!r} is not a number")
    return value


def read_ofac_csv(main: Path, progress: Progress | None = None) -> ParsedList:
    kind = main.stem.lower()
    if kind not in SETS:
        raise ListFormatError(main, None, "expected sdn.csv or cons_prim.csv")
    dataset, title, alt_name, add_name, comments_name = SETS[kind]
    folder = main.parent

    aliases: dict[str, list[str]] = defaultdict(list)
    addresses: dict[str, list[Address]] = defaultdict(list)
    comments: dict[str, str] = {}
    files = [main]
    if (alt := folder / alt_name).exists():
        files.append(alt)
        for line, row in _rows(alt, 5, None):
            name = _value(row[3])
            if name:
                aliases[_ent_num(alt, line, row[0])].append(name)
    if (add := folder / add_name).exists():
        files.append(add)
        for line, row in _rows(add, 6, None):
            street, city, country = _value(row[2]), _value(row[3]), _value(row[4])
            text = ", ".join(p for p in (street, city, country) if p)
            if not text:
                continue
            addresses[_ent_num(add, line, row[0])].append(
                Address(street, city, country_code(country), text or None)
            )
    if (extra := folder / comments_name).exists():
        files.append(extra)
        for line, row in _rows(extra, 2, None):
            comments[_ent_num(extra, line, row[0])] = row[1].strip()

    parsed = ParsedList(dataset, title, "ofac-csv", files=[str(p) for p in files])
    for line, row in _rows(main, MAIN_FIELDS, progress):
        ent_num = _ent_num(main, line, row[0])
        name = _value(row[1])
        if not name:
            raise ListFormatError(main, line, "entry has no name")
        program = _value(row[3]) or ""
        remarks = " ".join(p for p in (_value(row[11]), comments.get(ent_num)) if p) or None
        places = tuple(addresses.get(ent_num, ()))
        parsed.entries.append(
            ListEntry(
                list_name=title,
                entry_id=ent_num,
                name=clean(name) or name,
                party_type=PARTY_TYPES.get((_value(row[2]) or "").lower(), PartyType.ENTITY),
                aliases=tuple(aliases.get(ent_num, ())),
                programs=tuple(p.strip(" []") for p in program.split("] [") if p.strip(" []")),
                addresses=places,
                countries=tuple(dict.fromkeys(a.country for a in places if a.country)),
                remarks=remarks,
            )
        )
    return parsed
