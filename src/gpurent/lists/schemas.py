"""Screening requests and answers; list versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gpurent.screening import Match, PartyType

MAX_BATCH = 1000


class ScreeningQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    country: str | None = Field(
        default=None, description="ISO 3166 alpha-2 code; supports or weakens a match"
    )
    party_type: PartyType | None = Field(
        default=None,
        description="what the party is; matches of another type are left out, and without "
        "it every match says its entry's type",
    )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if pycountry.countries.get(alpha_2=value.upper()) is None:
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
        return value.upper()


class BatchScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[ScreeningQuery] = Field(min_length=1, max_length=MAX_BATCH)


class MatchOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    list_: str = Field(alias="list", serialization_alias="list")
    entry_id: str
    name: str
    party_type: PartyType
    matched_name: str
    score: float
    is_match: bool
    explanation: dict[str, Any]
    programs: list[str]
    countries: list[str]
    citation: str | None

    @staticmethod
    def of(match: Match) -> MatchOut:
        return MatchOut.model_validate(
            match.as_dict()
            | {
                "programs": list(match.entry.programs),
                "countries": list(match.entry.countries),
                "citation": match.entry.citation,
            }
        )


class ScreeningOut(BaseModel):
    query: str
    country: str | None
    matches: list[MatchOut]


class BatchScreeningOut(BaseModel):
    results: list[ScreeningOut]


class ListVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dataset: str
    title: str
    format: str
    files: list[str]
    sha256: str
    published: str | None
    entry_count: int
    link_count: int
    imported_at: datetime
    imported_by: str
    current: bool

    @staticmethod
    def of(version: Any) -> ListVersionOut:
        return ListVersionOut.model_validate(
            {
                **{k: getattr(version, k) for k in ListVersionOut.model_fields if k != "current"},
                "current": version.superseded_at is None,
            }
        )
