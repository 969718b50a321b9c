"""Screen a name against loaded list entries: candidates from the index, then scoring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .compare import Comparison, compare
from .entries import ListEntry, PartyType
from .index import NameIndex
from .normalize import NameForm, analyze

DEFAULT_THRESHOLD = 0.75
# Candidates scoring at least this are reported as possible matches (is_match false).
DEFAULT_REPORT_FLOOR = 0.6
CANDIDATES_COMPARED = 30
COUNTRY_AGREES = 0.05
COUNTRY_DIFFERS = 0.05
PARTY_TYPE_DIFFERS = 0.9
_PEOPLE = {PartyType.INDIVIDUAL}
_ORGANIZATIONS = {PartyType.ENTITY, PartyType.VESSEL, PartyType.AIRCRAFT}


@dataclass(frozen=True, slots=True)
class Match:
    """One list entry that resembles the query, with how and why."""

    entry: ListEntry
    matched_name: str
    score: float
    is_match: bool
    explanation: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "list": self.entry.list_name,
            "entry_id": self.entry.entry_id,
            "name": self.entry.name,
            "matched_name": self.matched_name,
            "score": round(self.score, 4),
            "is_match": self.is_match,
            "explanation": self.explanation,
        }


def _explain(
    entry: ListEntry, name: str, comparison: Comparison, adjustments: list[str]
) -> dict[str, Any]:
    return {
        "matched": "primary name" if name == entry.name else "alias",
        "pairs": [
            {"query": p.query, "list": p.candidate, "similarity": p.similarity}
            for p in comparison.pairs
        ],
        "unpaired_query": list(comparison.unpaired_query),
        "unpaired_list": list(comparison.unpaired_candidate),
        "adjustments": [*comparison.adjustments, *adjustments],
        "name_score": comparison.score,
    }


class Screener:
    """An in-memory index over list entries; immutable once built."""

    def __init__(
        self,
        entries: Iterable[ListEntry],
        threshold: float = DEFAULT_THRESHOLD,
        report_floor: float = DEFAULT_REPORT_FLOOR,
    ) -> None:
        self.threshold = threshold
        self.report_floor = min(report_floor, threshold)
        self.entries: list[ListEntry] = list(entries)
        self._names: list[tuple[int, str, NameForm]] = []
        for entry_index, entry in enumerate(self.entries):
            seen: set[tuple[str, ...]] = set()
            for name in entry.names():
                form = analyze(name)
                if form.tokens and form.tokens not in seen:
                    seen.add(form.tokens)
                    self._names.append((entry_index, name, form))
        self._index = NameIndex.build(form for _, _, form in self._names)

    @property
    def name_count(self) -> int:
        return len(self._names)

    def screen(
        self,
        name: str,
        country: str | None = None,
        party_type: PartyType | None = None,
        limit: int = 10,
    ) -> list[Match]:
        """List entries resembling `name`, best first, down to the report floor."""
        query = analyze(name)
        if not query.tokens:
            return []
        best: dict[int, Match] = {}
        for name_id in self._index.candidates(query, CANDIDATES_COMPARED):
            entry_index, list_name, form = self._names[name_id]
            entry = self.entries[entry_index]
            comparison = compare(query, form)
            score, adjustments = self._adjust(comparison.score, entry, country, party_type)
            if score < self.report_floor:
                continue
            current = best.get(entry_index)
            if current is None or score > current.score:
                best[entry_index] = Match(
                    entry,
                    list_name,
                    score,
                    score >= self.threshold,
                    _explain(entry, list_name, comparison, adjustments),
                )
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.entry.entry_id))
        return ranked[:limit]

    @staticmethod
    def _adjust(
        score: float, entry: ListEntry, country: str | None, party_type: PartyType | None
    ) -> tuple[float, list[str]]:
        """Country and party type support or weaken a name match; they never make one."""
        adjustments: list[str] = []
        if country and entry.countries and score > 0:
            code = country.upper()
            if code in entry.countries:
                score = min(1.0, score + COUNTRY_AGREES)
                adjustments.append(f"country {code} is the listed party's: +{COUNTRY_AGREES}")
            else:
                score = max(0.0, score - COUNTRY_DIFFERS)
                listed = ", ".join(entry.countries)
                adjustments.append(f"country {code} is not the listed {listed}: -{COUNTRY_DIFFERS}")
        if party_type and entry.party_type is not PartyType.UNKNOWN:
            query_person = party_type in _PEOPLE
            if (query_person and entry.party_type in _ORGANIZATIONS) or (
                not query_person and entry.party_type in _PEOPLE
            ):
                score *= PARTY_TYPE_DIFFERS
                adjustments.append(
                    f"party type {party_type.value} vs listed {entry.party_type.value}: "
                    f"x{PARTY_TYPE_DIFFERS}"
                )
        return round(score, 4), adjustments
