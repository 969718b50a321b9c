"""Screen a name against loaded list entries: candidates from the index, then scoring.

A query that says what kind of party it is (a company, a person, a vessel, an aircraft)
is only compared with entries of that kind or of none stated; one that does not say
gets each match's kind reported. Which name rules apply follows from the two kinds:
a person's name pairs on sound, a company's on spelling only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .compare import PARTIAL_MAX, Comparison, Rules, compare, infer_rules
from .entries import ListEntry, PartyType
from .index import NameIndex
from .normalize import NameForm, analyze

DEFAULT_THRESHOLD = 0.75
# Candidates scoring at least this are reported as possible matches (is_match false).
DEFAULT_REPORT_FLOOR = 0.6
CANDIDATES_COMPARED = 30
COUNTRY_AGREES = 0.05
COUNTRY_DIFFERS = 0.05

_CRAFT = frozenset({PartyType.VESSEL, PartyType.AIRCRAFT})


def same_kind(query: PartyType | None, entry: PartyType, legal_form: bool = False) -> bool:
    """Whether a query of this type may match an entry of that type. A name with a legal
    form ("Ltd", "Inc") is a company's, never a vessel's or an aircraft's."""
    if query is None and legal_form:
        return entry not in _CRAFT
    unknown = (None, PartyType.UNKNOWN)
    return query in unknown or entry in unknown or query is entry


def rules_for(
    query_type: PartyType | None, entry_type: PartyType, legal_form: bool = False
) -> Rules | None:
    """People's rules for a person; company rules for a query that is a company (by its
    type or its legal form), and for a vessel or an aircraft. Otherwise (None) they are
    inferred from the names: a listed organization without a company word in its name
    ("Hizballah") is transliterated like a person's name."""
    known = {query_type, entry_type} - {None, PartyType.UNKNOWN}
    if query_type is PartyType.ENTITY or known & _CRAFT or legal_form:
        return Rules.ORGANIZATION
    if PartyType.INDIVIDUAL in known:
        return Rules.PERSON
    return None


@dataclass(frozen=True, slots=True)
class Match:
    """One list entry that resembles the query, with how and why."""

    entry: ListEntry
    matched_name: str
    score: float
    is_match: bool
    explanation: dict[str, Any] = field(default_factory=dict)
    exact: bool = False  # the query is this name or alias, word for word

    @property
    def party_type(self) -> PartyType:
        return self.entry.party_type

    def as_dict(self) -> dict[str, Any]:
        return {
            "list": self.entry.list_name,
            "entry_id": self.entry.entry_id,
            "name": self.entry.name,
            "party_type": self.entry.party_type.value,
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
        "exact": comparison.exact,
        "party_type": entry.party_type.value,
        "rules": comparison.rules.value,
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
            # Names that normalize alike are compared once (their legal forms count:
            # only the one with the query's is its exact name).
            seen: set[tuple[tuple[str, ...], frozenset[str]]] = set()
            for name in entry.names():
                form = analyze(name)
                if form.tokens and (form.tokens, form.legal_forms) not in seen:
                    seen.add((form.tokens, form.legal_forms))
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
            legal_form = bool(query.legal_forms)
            if not same_kind(party_type, entry.party_type, legal_form):
                continue
            rules = rules_for(party_type, entry.party_type, legal_form) or infer_rules(query, form)
            comparison = compare(query, form, rules)
            score, adjustments = self._adjust(comparison, entry, country)
            exact = comparison.exact
            if score < self.report_floor:
                continue
            current = best.get(entry_index)
            if current is None or (exact, score) > (current.exact, current.score):
                best[entry_index] = Match(
                    entry,
                    list_name,
                    score,
                    score >= self.threshold,
                    _explain(entry, list_name, comparison, adjustments),
                    exact,
                )
        # An exact name or alias ranks above every partial one, whatever the country says;
        # between two exact ones, the entry whose own name it is ranks first.
        ranked = sorted(
            best.values(),
            key=lambda m: (not m.exact, -m.score, m.matched_name != m.entry.name, m.entry.entry_id),
        )
        return ranked[:limit]

    @staticmethod
    def _adjust(
        comparison: Comparison, entry: ListEntry, country: str | None
    ) -> tuple[float, list[str]]:
        """A country supports or weakens a name match; it never makes one, and a partial
        name stays below an exact one."""
        score = comparison.score
        adjustments: list[str] = []
        if country and entry.countries and score > 0:
            code = country.upper()
            if code in entry.countries:
                ceiling = 1.0 if comparison.exact else PARTIAL_MAX
                score = min(ceiling, score + COUNTRY_AGREES)
                adjustments.append(f"country {code} is the listed party's: +{COUNTRY_AGREES}")
            else:
                score = max(0.0, score - COUNTRY_DIFFERS)
                listed = ", ".join(entry.countries)
                adjustments.append(f"country {code} is not the listed {listed}: -{COUNTRY_DIFFERS}")
        return round(score, 4), adjustments
