"""What a restricted-party list says about a party, independent of its file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


def entry_to_dict(entry: ListEntry) -> dict[str, object]:
    """A JSON-ready form of an entry (what a stored list version keeps)."""
    return {
        "list_name": entry.list_name,
        "entry_id": entry.entry_id,
        "name": entry.name,
        "party_type": entry.party_type.value,
        "aliases": list(entry.aliases),
        "programs": list(entry.programs),
        "addresses": [
            {"street": a.street, "city": a.city, "country": a.country, "text": a.text}
            for a in entry.addresses
        ],
        "countries": list(entry.countries),
        "remarks": entry.remarks,
        "citation": entry.citation,
        "start_date": entry.start_date,
        "license_requirement": entry.license_requirement,
        "license_policy": entry.license_policy,
        "source_url": entry.source_url,
    }


def entry_from_dict(data: dict[str, Any]) -> ListEntry:
    return ListEntry(
        list_name=data["list_name"],
        entry_id=data["entry_id"],
        name=data["name"],
        party_type=PartyType(data.get("party_type") or "unknown"),
        aliases=tuple(data.get("aliases") or ()),
        programs=tuple(data.get("programs") or ()),
        addresses=tuple(Address(**a) for a in data.get("addresses") or ()),
        countries=tuple(data.get("countries") or ()),
        remarks=data.get("remarks"),
        citation=data.get("citation"),
        start_date=data.get("start_date"),
        license_requirement=data.get("license_requirement"),
        license_policy=data.get("license_policy"),
        source_url=data.get("source_url"),
    )
