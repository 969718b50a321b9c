"""The trade.gov Consolidated Screening List, as CSV (with or without `_id`) or JSON.

One CSL file holds rows from many lists (SDN, Entity List, DPL, ...); each row's
`source` names its list. Names and addresses inside a cell are separated by "; ".
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from gpurent.screening.entries import Address, ListEntry, ParsedList, PartyType

from .common import clean, country_code, open_text, stable_id
from .errors import ListFormatError, Progress

REQUIRED = ("source", "name")
_SHORT_SOURCE = re.compile(r"^(.*?\(([A-Z0-9]+)\))")
PARTY_TYPES = {
    "individual": PartyType.INDIVIDUAL,
    "entity": PartyType.ENTITY,
    "vessel": PartyType.VESSEL,
    "aircraft": PartyType.AIRCRAFT,
}


def list_title(source: str) -> str:
    """ "Entity List (EL) - Bureau of Industry and Security" -> "Entity List (EL)"."""
    match = _SHORT_SOURCE.match(source)
    return match.group(1).strip() if match else source.strip()


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in (clean(str(x)) for x in value) if v]
    parts = [clean(p) for p in str(value).split(";")]
    # "...; and Foo" is how the Entity List writes the last alias.
    return [re.sub(r"^and\s+", "", p) for p in parts if p]


def _addresses(value: Any) -> list[Address]:
    out: list[Address] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                country = country_code(item.get("country"))
                text = ", ".join(
                    str(item[k])
                    for k in ("address", "city", "state", "postal_code", "country")
                    if item.get(k)
                )
                out.append(
                    Address(clean(item.get("address")), clean(item.get("city")), country, text)
                )
            elif item:
                out.append(_address_text(str(item)))
        return out
    return [_address_text(part) for part in _split(value)]


def _address_text(text: str) -> Address:
    # "street, city, province, postal code, country": only the country is reliably last.
    parts = [p.strip() for p in text.split(",") if p.strip()]
    country = country_code(parts[-1]) if parts else None
    street = ", ".join(parts[:-1]) if country else ", ".join(parts)
    return Address(street or None, None, country, text)


def _entry(record: Mapping[str, Any], fail: Callable[[str], ListFormatError]) -> ListEntry:
    name = clean(record.get("name"))
    source = clean(record.get("source"))
    if not name:
        raise fail("entry has no name")
    if not source:
        raise fail("entry has no source list")
    entry_id = (
        clean(str(record.get("entity_number") or ""))
        or clean(str(record.get("_id") or record.get("id") or ""))
        or stable_id(source, name, str(record.get("start_date") or ""))
    )
    addresses = _addresses(record.get("addresses"))
    countries = [a.country for a in addresses if a.country]
    for key in ("citizenships", "nationalities"):
        countries.extend(c for c in (country_code(v) for v in _split(record.get(key))) if c)
    programs = _split(record.get("programs"))
    return ListEntry(
        list_name=list_title(source),
        entry_id=entry_id,
        name=name,
        party_type=PARTY_TYPES.get(str(record.get("type") or "").lower(), PartyType.UNKNOWN),
        aliases=tuple(dict.fromkeys(a for a in _split(record.get("alt_names")) if a != name)),
        programs=tuple(programs),
        addresses=tuple(addresses),
        countries=tuple(dict.fromkeys(countries)),
        remarks=clean(record.get("remarks")),
        citation=clean(record.get("federal_register_notice")),
        start_date=clean(record.get("start_date")),
        license_requirement=clean(record.get("license_requirement")),
        license_policy=clean(record.get("license_policy")),
        source_url=clean(record.get("source_list_url")),
    )


def _at_line(path: Path, line: int, problem: str) -> ListFormatError:
    return ListFormatError(path, line, problem)


def _at_result(path: Path, number: int, problem: str) -> ListFormatError:
    return ListFormatError(path, None, f"result {number}: {problem}")


def read_csl_csv(
    path: Path,
    progress: Progress | None = None,
    dataset: str = "csl",
    title: str = "Consolidated Screening List",
) -> ParsedList:
    parsed = ParsedList(dataset, title, "csl-csv", files=[str(path)])
    with open_text(path, progress, encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, strict=True)
        try:
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise ListFormatError(path, 1, f"CSL header lacks column(s) {', '.join(missing)}")
            for record in reader:
                if None in record or any(v is None for v in record.values()):
                    raise ListFormatError(
                        path, reader.line_num, f"expected {len(header)} fields per row"
                    )
                parsed.entries.append(_entry(record, partial(_at_line, path, reader.line_num)))
        except csv.Error as exc:
            raise ListFormatError(path, reader.line_num, f"malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ListFormatError(path, reader.line_num, f"not UTF-8 text: {exc.reason}") from exc
    return parsed


def read_csl_json(path: Path, progress: Progress | None = None) -> ParsedList:
    try:
        with open_text(path, progress) as f:
            document = json.load(f)
    except json.JSONDecodeError as exc:
        raise ListFormatError(path, exc.lineno, f"malformed JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise ListFormatError(path, None, f"not UTF-8 text: {exc.reason}") from exc
    records: Iterable[Any]
    if isinstance(document, Mapping) and isinstance(document.get("results"), list):
        records = document["results"]
    elif isinstance(document, list):
        records = document
    else:
        raise ListFormatError(path, 1, 'expected a list of entries or {"results": [...]}')
    parsed = ParsedList("csl", "Consolidated Screening List", "csl-json", files=[str(path)])
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise ListFormatError(path, None, f"result {number} is not an object")
        # A JSON document has no line per record: errors name the record's position.
        parsed.entries.append(_entry(record, partial(_at_result, path, number)))
    return parsed
