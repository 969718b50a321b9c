"""OFAC's classic XML (`sdnList`, namespace http://tempuri.org/sdnList.xsd)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gpurent.screening.entries import Address, ListEntry, ParsedList, PartyType

from .common import CountingReader, clean, country_code
from .errors import ListFormatError, Progress

PARTY_TYPES = {
    "individual": PartyType.INDIVIDUAL,
    "entity": PartyType.ENTITY,
    "vessel": PartyType.VESSEL,
    "aircraft": PartyType.AIRCRAFT,
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return clean(child.text)
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def _person_name(element: ET.Element) -> str | None:
    first, last = _child(element, "firstName"), _child(element, "lastName")
    return " ".join(p for p in (first, last) if p) or None


def dataset_of(path: Path) -> tuple[str, str]:
    if "cons" in path.name.lower():
        return "ofac-cons", "OFAC Consolidated (non-SDN)"
    return "ofac-sdn", "OFAC SDN"


def read_ofac_xml(path: Path, progress: Progress | None = None) -> ParsedList:
    dataset, title = dataset_of(path)
    parsed = ParsedList(dataset, title, "ofac-xml", files=[str(path)])
    reader = CountingReader(path, progress)
    try:
        for _, element in ET.iterparse(reader, events=("end",)):
            tag = _local(element.tag)
            if tag == "Publish_Date":
                parsed.published = clean(element.text)
            elif tag == "sdnEntry":
                parsed.entries.append(_entry(path, element, title))
                element.clear()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ListFormatError(path, line, f"malformed XML: {exc}") from exc
    finally:
        reader.close()
    if not parsed.entries:
        raise ListFormatError(path, None, "no sdnEntry elements: not an OFAC XML list")
    return parsed


def _entry(path: Path, element: ET.Element, title: str) -> ListEntry:
    uid = _child(element, "uid")
    name = _person_name(element)
    if not uid or not name:
        raise ListFormatError(path, None, f"sdnEntry {uid or '?'} lacks a uid or a name")
    aliases: list[str] = []
    for aka_list in _children(element, "akaList"):
        for aka in _children(aka_list, "aka"):
            alias = _person_name(aka)
            if alias:
                aliases.append(alias)
    addresses: list[Address] = []
    for address_list in _children(element, "addressList"):
        for address in _children(address_list, "address"):
            street = ", ".join(p for p in (_child(address, f"address{i}") for i in (1, 2, 3)) if p)
            city, country = _child(address, "city"), _child(address, "country")
            text = ", ".join(p for p in (street, city, country) if p)
            addresses.append(Address(street or None, city, country_code(country), text or None))
    programs = [
        clean(p.text) or ""
        for program_list in _children(element, "programList")
        for p in _children(program_list, "program")
    ]
    return ListEntry(
        list_name=title,
        entry_id=uid,
        name=name,
        party_type=PARTY_TYPES.get((_child(element, "sdnType") or "").lower(), PartyType.ENTITY),
        aliases=tuple(aliases),
        programs=tuple(p for p in programs if p),
        addresses=tuple(addresses),
        countries=tuple(dict.fromkeys(a.country for a in addresses if a.country)),
        remarks=_child(element, "remarks"),
    )
