"""What a restricted-party list says about a party, independent of its file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PartyType(StrEnum):
    ENTITY = "entity"
    INDIVIDUAL = "individual"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 where it could be recognized
    text: str | None = None  # the address as the list wrote it


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed party: its names and the facts a compliance officer needs."""

    list_name: str  # "OFAC SDN", "Entity List (EL)", ...
    entry_id: str  # the source's own identifier (ent_num, entity_number, _id)
    name: str
    party_type: PartyType = PartyType.UNKNOWN
    aliases: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()
    countries: tuple[str, ...] = ()
    remarks: str | None = None
    citation: str | None = None  # Federal Register notice
    start_date: str | None = None
    license_requirement: str | None = None
    license_policy: str | None = None
    source_url: str | None = None

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class OwnershipLink:
    """The list says `owned_id` is owned or controlled by `owner_id` (both entry ids)."""

    owned_id: str
    owner_id: str
    relation: str


@dataclass(slots=True)
class ParsedList:
    """The content of one list version, as read from its files."""

    dataset: str  # stable key of the list: "ofac-sdn", "ofac-cons", "csl", "bis-dpl", ...
    title: str
    format: str
    entries: list[ListEntry] = field(default_factory=list)
    links: list[OwnershipLink] = field(default_factory=list)
    published: str | None = None
    files: list[str] = field(default_factory=list)
