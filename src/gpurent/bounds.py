"""Bounds on what a client may send, shared by every schema (and the API's parameters).

Each type carries hard limits that keep arithmetic and the database safe (a 64-bit id, an
hour count whose timedelta cannot overflow, a year the calendar can add months to);
limits an operator may tighten live in the settings and are checked where they apply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema

# Ids are INTEGER columns (32-bit on PostgreSQL, which refuses a larger parameter with an
# error, not an empty result); offsets go to LIMIT/OFFSET, which take 64-bit values.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**63 - 1
# Hard caps; the settings (GPURENT_LEASE_MAX_HOURS, ...) may only be tighter.
MAX_HOURS = 1_000_000
MAX_MONTHS = 60
MAX_GPUS = 4096
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _iso_text(value: Any) -> Any:
    # Numbers would be read as Unix seconds or milliseconds (99999999999999 is the year
    # 5138): only ISO 8601 text, or a datetime from Python callers, is a time here.
    if isinstance(value, str | datetime):
        return value
    raise ValueError("a time is ISO 8601 text with a timezone, e.g. 2026-12-01T00:00:00Z")


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"a time must lie between {EARLIEST.year} and {LATEST.year}")
    return moment


def _country(code: str) -> str:
    code = code.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


def fits_id(value: str | int) -> bool:
    """Whether an id given as text (or int) is plain digits within the id columns."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 20 and 1 <= int(text) <= MAX_ID


def _reference(value: str) -> str:
    # Names and ids share one parameter (``42``, ``node-01/3``, a serial): the numeric
    # parts must be plain digits that fit the id columns, or the lookup itself would fail.
    for part in (value, value.rpartition("/")[2]):
        if part.isdigit() and not (fits_id(part) or part == "0"):
            raise ValueError(f"a number here must be ASCII digits, at most {MAX_ID}")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Strict: a JSON true, 2.0 or "2" is no count (query parameters, which arrive as text,
# use FastAPI's Query with bounds instead).
Count = Annotated[int, Field(ge=1, le=MAX_GPUS, strict=True)]
Months = Annotated[int, Field(ge=1, le=MAX_MONTHS, strict=True)]
# Decimal text ("1.5") is accepted too; the document says number, what clients should send.
Hours = Annotated[
    Decimal,
    Field(gt=0, le=MAX_HOURS, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_HOURS}),
]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]
Reference = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_reference)]
CountryCode = Annotated[
    str, Field(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$"), AfterValidator(_country)
]
