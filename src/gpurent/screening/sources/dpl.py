"""BIS Denied Persons List: tab-separated, quoted, with a header row."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from gpurent.screening.entries import Address, ListEntry, ParsedList, PartyType

from .common import clean, country_code, open_text, stable_id
from .errors import ListFormatError, Progress

COLUMNS = (
    "Name",
    "Street_Address",
    "City",
    "State",
    "Country",
    "Postal_Code",
    "Effective_Date",
    "Expiration_Date",
    "Standard_Order",
    "Last_Update",
    "Action",
    "FR_Citation",
)
TITLE = "Denied Persons List (DPL)"


def read_dpl(path: Path, progress: Progress | None = None) -> ParsedList:
    parsed = ParsedList("bis-dpl", TITLE, "bis-dpl", files=[str(path)])
    seen: dict[str, int] = {}
    with open_text(path, progress) as f:
        reader = csv.reader(f, delimiter="\t", strict=True)
        try:
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != list(COLUMNS):
                raise ListFormatError(path, 1, f"expected the DPL header {', '.join(COLUMNS)}")
            for row in reader:
                if not row:
                    continue
                if len(row) != len(COLUMNS):
                    raise ListFormatError(
                        path, reader.line_num, f"expected {len(COLUMNS)} fields, found {len(row)}"
                    )
                values = dict(zip(COLUMNS, (clean(v) for v in row), strict=True))
                name = values["Name"]
                if not name:
                    raise ListFormatError(path, reader.line_num, "entry has no name")
                country = country_code(values["Country"])
                address_country = (country,) if country else ()
                text = ", ".join(
                    v
                    for v in (
                        values["Street_Address"],
                        values["City"],
                        values["State"],
                        values["Postal_Code"],
                        values["Country"],
                    )
                    if v
                )
                entry_id = stable_id(name, values["Effective_Date"], values["FR_Citation"])
                address = Address(values["Street_Address"], values["City"], country, text)
                if entry_id in seen:
                    # The same order listed again at another address.
                    earlier = parsed.entries[seen[entry_id]]
                    parsed.entries[seen[entry_id]] = replace(
                        earlier,
                        addresses=(*earlier.addresses, address),
                        countries=tuple(dict.fromkeys((*earlier.countries, *address_country))),
                    )
                    continue
                seen[entry_id] = len(parsed.entries)
                parsed.entries.append(
                    ListEntry(
                        list_name=TITLE,
                        entry_id=entry_id,
                        name=name,
                        party_type=PartyType.UNKNOWN,
                        addresses=(address,),
                        countries=address_country,
                        citation=values["FR_Citation"],
                        start_date=values["Effective_Date"],
                        remarks=values["Action"],
                    )
                )
        except csv.Error as exc:
            raise ListFormatError(path, reader.line_num, f"malformed record: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ListFormatError(path, reader.line_num, f"not UTF-8 text: {exc.reason}") from exc
    return parsed
