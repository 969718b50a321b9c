"""OFAC's advanced XML (sdn_advanced.xsd, namespace http://www.un.org/sanctions/1.0).

Besides names, addresses and programs it carries `ProfileRelationship` links; those of
type "Owned or Controlled By" become ownership links for the ownership analysis.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from gpurent.screening.entries import Address, ListEntry, OwnershipLink, ParsedList, PartyType

from .common import CountingReader, clean
from .errors import ListFormatError, Progress
from .ofac_xml import dataset_of

NS = "{http://www.un.org/sanctions/1.0}"
PARTY_TYPES = {
    "Individual": PartyType.INDIVIDUAL,
    "Entity": PartyType.ENTITY,
    "Vessel": PartyType.VESSEL,
    "Aircraft": PartyType.AIRCRAFT,
}
LOCATION_FEATURE = "Location"
FIRST_NAME_PARTS = ("First Name", "Middle Name", "Patronymic")


def _values(root: ET.Element, set_name: str) -> dict[str, ET.Element]:
    found = root.find(f"{NS}ReferenceValueSets/{NS}{set_name}")
    return {v.get("ID", ""): v for v in (found if found is not None else [])}


class _Reference:
    """The lookup tables the rest of the document refers to by ID."""

    def __init__(self, root: ET.Element) -> None:
        self.alias_types = {k: v.text or "" for k, v in _values(root, "AliasTypeValues").items()}
        party_types = {k: v.text or "" for k, v in _values(root, "PartyTypeValues").items()}
        self.sub_types = {
            k: (v.text if v.text in PARTY_TYPES else party_types.get(v.get("PartyTypeID", ""), ""))
            for k, v in _values(root, "PartySubTypeValues").items()
        }
        self.name_parts = {k: v.text or "" for k, v in _values(root, "NamePartTypeValues").items()}
        self.features = {k: v.text or "" for k, v in _values(root, "FeatureTypeValues").items()}
        self.countries = {k: v.get("ISO2") for k, v in _values(root, "CountryValues").items()}
        self.area_codes = {
            k: v.get("CountryID") for k, v in _values(root, "AreaCodeValues").items()
        }
        self.lists = {k: v.text or "" for k, v in _values(root, "ListValues").items()}
        self.relations = {k: v.text or "" for k, v in _values(root, "RelationTypeValues").items()}
        self.locations = self._locations(root)

    def _locations(self, root: ET.Element) -> dict[str, Address]:
        part_types = {k: v.text or "" for k, v in _values(root, "LocPartTypeValues").items()}
        out: dict[str, Address] = {}
        for location in root.iterfind(f"{NS}Locations/{NS}Location"):
            country: str | None = None
            for area in location.iterfind(f"{NS}LocationAreaCode"):
                country = self.countries.get(self.area_codes.get(area.get("AreaCodeID", "")) or "")
            for lc in location.iterfind(f"{NS}LocationCountry"):
                country = self.countries.get(lc.get("CountryID", "")) or country
            parts: dict[str, str] = {}
            for part in location.iterfind(f"{NS}LocationPart"):
                value = part.find(f"{NS}LocationPartValue/{NS}Value")
                if value is not None and value.text:
                    parts[part_types.get(part.get("LocPartTypeID", ""), "")] = value.text.strip()
            street = ", ".join(parts[k] for k in ("ADDRESS1", "ADDRESS2", "ADDRESS3") if k in parts)
            city = parts.get("CITY")
            text = ", ".join(p for p in (street, city, parts.get("STATE/PROVINCE"), country) if p)
            out[location.get("ID", "")] = Address(street or None, city, country, text or None)
        return out


def _documented_name(name: ET.Element, ref: _Reference, groups: dict[str, str]) -> str | None:
    first: list[str] = []
    rest: list[str] = []
    for part in name.iterfind(f"{NS}DocumentedNamePart/{NS}NamePartValue"):
        text = clean(part.text)
        if not text:
            continue
        kind = ref.name_parts.get(groups.get(part.get("NamePartGroupID", ""), ""), "")
        (first if kind in FIRST_NAME_PARTS else rest).append(text)
    return " ".join(first + rest) or None


def read_ofac_advanced(path: Path, progress: Progress | None = None) -> ParsedList:
    dataset, title = dataset_of(path)
    reader = CountingReader(path, progress)
    try:
        root = ET.parse(reader).getroot()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ListFormatError(path, line, f"malformed XML: {exc}") from exc
    finally:
        reader.close()
    if root.tag != f"{NS}Sanctions":
        raise ListFormatError(path, None, "root element is not Sanctions: not OFAC advanced XML")
    ref = _Reference(root)
    parsed = ParsedList(dataset, title, "ofac-advanced-xml", files=[str(path)])
    issued = root.find(f"{NS}DateOfIssue")
    if issued is not None:
        parsed.published = "-".join(
            (issued.findtext(f"{NS}{p}") or "").zfill(2) for p in ("Year", "Month", "Day")
        )

    lists: dict[str, str] = {}
    programs: dict[str, list[str]] = defaultdict(list)
    for entry in root.iterfind(f"{NS}SanctionsEntries/{NS}SanctionsEntry"):
        profile = entry.get("ProfileID", "")
        lists[profile] = ref.lists.get(entry.get("ListID", ""), title)
        for measure in entry.iterfind(f"{NS}SanctionsMeasure"):
            comment = clean(measure.findtext(f"{NS}Comment"))
            if comment and measure.get("SanctionsTypeID") == "1":
                programs[profile].append(comment)

    for party in root.iterfind(f"{NS}DistinctParties/{NS}DistinctParty"):
        for element in party.iterfind(f"{NS}Profile"):
            parsed.entries.append(_entry(path, element, ref, lists, programs, title))

    for link in root.iterfind(f"{NS}ProfileRelationships/{NS}ProfileRelationship"):
        relation = ref.relations.get(link.get("RelationTypeID", ""), "")
        owned, owner = link.get("From-ProfileID"), link.get("To-ProfileID")
        if owned and owner and "owned" in relation.lower() and link.get("Former") != "true":
            parsed.links.append(OwnershipLink(owned, owner, relation))
    return parsed


def _entry(
    path: Path,
    profile: ET.Element,
    ref: _Reference,
    lists: dict[str, str],
    programs: dict[str, list[str]],
    title: str,
) -> ListEntry:
    profile_id = profile.get("ID", "")
    primary: str | None = None
    aliases: list[str] = []
    for identity in profile.iterfind(f"{NS}Identity"):
        groups = {
            g.get("ID", ""): g.get("NamePartTypeID", "")
            for g in identity.iterfind(
                f"{NS}NamePartGroups/{NS}MasterNamePartGroup/{NS}NamePartGroup"
            )
        }
        for alias in identity.iterfind(f"{NS}Alias"):
            for documented in alias.iterfind(f"{NS}DocumentedName"):
                name = _documented_name(documented, ref, groups)
                if not name:
                    continue
                if alias.get("Primary") == "true" and primary is None:
                    primary = name
                else:
                    aliases.append(name)
    if not profile_id or primary is None:
        raise ListFormatError(path, None, f"Profile {profile_id or '?'} has no primary name")
    addresses: list[Address] = []
    for feature in profile.iterfind(f"{NS}Feature"):
        if ref.features.get(feature.get("FeatureTypeID", "")) != LOCATION_FEATURE:
            continue
        for version in feature.iterfind(f"{NS}FeatureVersion/{NS}VersionLocation"):
            address = ref.locations.get(version.get("LocationID", ""))
            if address is not None:
                addresses.append(address)
    sub_type = ref.sub_types.get(profile.get("PartySubTypeID", ""), "")
    return ListEntry(
        list_name=lists.get(profile_id, title),
        entry_id=profile_id,
        name=primary,
        party_type=PARTY_TYPES.get(sub_type or "", PartyType.UNKNOWN),
        aliases=tuple(dict.fromkeys(a for a in aliases if a != primary)),
        programs=tuple(dict.fromkeys(programs.get(profile_id, ()))),
        addresses=tuple(addresses),
        countries=tuple(dict.fromkeys(a.country for a in addresses if a.country)),
    )
