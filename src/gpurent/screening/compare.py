"""Compare two names token by token and explain the score.

Tokens are paired greedily, best similarity first; a pair may join two adjacent tokens
of one side ("hua wei" ~ "huawei", "siemensag" ~ "siemens ag"). Each token weighs by
what it says about identity (a distinctive word 1, a generic word or place little, a
particle almost nothing); legal forms are compared apart. The score is the weighted
similarity of the pairs over the weight of everything on both sides, with tokens left
over on the list side costing less than on the query side (list names are often
longer: middle names, a city). Generic words alone never make a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import OSA
from rigour.text.phonetics import metaphone

from .normalize import NameForm, TokenKind

WEIGHTS: dict[TokenKind, float] = {
    TokenKind.NAME: 1.0,
    TokenKind.NUMBER: 0.5,
    TokenKind.PATRONYMIC: 0.3,
    TokenKind.GENERIC: 0.35,
    TokenKind.PLACE: 0.35,
    TokenKind.PARTICLE: 0.1,
}
MIN_PAIR_SIMILARITY = 0.6
# A leftover token costs this fraction of its weight (the list side's names run longer).
QUERY_LEFTOVER_COST = 1.0
CANDIDATE_LEFTOVER_COST = 0.5
# Pairs count by similarity to this power: a near miss on a whole word weighs less than
# its edit distance suggests ("castillo" is not "castro").
SIMILARITY_EXPONENT = 1.5
# Without a distinctive token paired at least this well, the score is capped.
DISTINCTIVE_SIMILARITY = 0.8
NO_DISTINCTIVE_CAP = 0.5
LEGAL_FORM_MISMATCH = 0.9
# Different patronymics on both sides: a relative, not the same person.
PATRONYMIC_MISMATCH = 0.85
# "Omar bin Abdullah" is the son of "Abdullah bin Omar", not the same person.
LINEAGE_SWAPPED = 0.7
LINEAGE_PARTICLES = frozenset({"bin", "ibn", "bint", "ben"})
# Two spellings that sound alike (metaphone) pair at least this well.
SOUNDS_ALIKE = 0.85
STRONG_LEGAL_FORMS = frozenset({"llc", "jsc", "lp"})

_VOWELS = re.compile(r"[aeiouy]")
_DOUBLES = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class TokenPair:
    query: str
    candidate: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float
    pairs: tuple[TokenPair, ...]
    unpaired_query: tuple[str, ...]
    unpaired_candidate: tuple[str, ...]
    adjustments: tuple[str, ...] = field(default=())


@lru_cache(maxsize=65536)
def _sound(token: str) -> str:
    return metaphone(token)


def _skeleton(token: str) -> str:
    return _DOUBLES.sub(r"\1", _VOWELS.sub("", token[1:]) if len(token) > 1 else token)


@lru_cache(maxsize=1 << 18)
def token_similarity(a: str, b: str, abjad: bool = False) -> float:
    """Similarity of two tokens in [0, 1]."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if len(a) == 1 or len(b) == 1:
        # An initial stands for any word that starts with it.
        return 0.75 if a[0] == b[0] else 0.0
    similarity = OSA.normalized_similarity(a, b)
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 5 and len(long) - len(short) <= 3 and long.startswith(short):
        # A suffix glued on ("siemensag") or dropped ("faberlick").
        similarity = max(similarity, 0.85)
    if similarity < SOUNDS_ALIKE and min(len(a), len(b)) >= 3 and _sound(a) == _sound(b):
        similarity = SOUNDS_ALIKE
    if abjad:
        skeleton_a, skeleton_b = _skeleton(a), _skeleton(b)
        if a[0] == b[0] or a[0] in "aeiou" or b[0] in "aeiou":
            skel = OSA.normalized_similarity(skeleton_a, skeleton_b)
            similarity = max(similarity, 0.95 * skel)
    return similarity


@dataclass(slots=True)
class _Option:
    similarity: float
    query: tuple[int, ...]
    candidate: tuple[int, ...]


def _options(query: NameForm, candidate: NameForm, abjad: bool) -> list[_Option]:
    q, c = query.tokens, candidate.tokens
    options: list[_Option] = []
    for i, qt in enumerate(q):
        for j, ct in enumerate(c):
            sim = token_similarity(qt, ct, abjad)
            if sim >= MIN_PAIR_SIMILARITY:
                options.append(_Option(sim, (i,), (j,)))
    # Joined neighbours: one side writes as one word what the other writes as two.
    for i in range(len(q) - 1):
        joined = q[i] + q[i + 1]
        for j, ct in enumerate(c):
            sim = token_similarity(joined, ct, abjad)
            if sim >= MIN_PAIR_SIMILARITY:
                options.append(_Option(sim, (i, i + 1), (j,)))
    for j in range(len(c) - 1):
        joined = c[j] + c[j + 1]
        for i, qt in enumerate(q):
            sim = token_similarity(qt, joined, abjad)
            if sim >= MIN_PAIR_SIMILARITY:
                options.append(_Option(sim, (i,), (j, j + 1)))
    options.sort(key=lambda o: (o.similarity, len(o.query) + len(o.candidate)), reverse=True)
    return options


def _lineage_swapped(query: NameForm, candidate: NameForm, pairs: list[TokenPair]) -> bool:
    """Whether the name before "bin" on one side is the name after it on the other."""

    def before_after(tokens: tuple[str, ...]) -> tuple[str, str] | None:
        for i in range(1, len(tokens) - 1):
            if tokens[i] in LINEAGE_PARTICLES:
                return tokens[i - 1], tokens[i + 1]
        return None

    q, c = before_after(query.tokens), before_after(candidate.tokens)
    if q is None or c is None:
        return False
    paired = {(p.query, p.candidate) for p in pairs}
    return (q[0], c[1]) in paired and (q[1], c[0]) in paired


def compare(query: NameForm, candidate: NameForm) -> Comparison:
    """Score how well `candidate` (a list name) matches `query`."""
    abjad = query.abjad or candidate.abjad
    q_weights = [WEIGHTS[k] for k in query.kinds]
    c_weights = [WEIGHTS[k] for k in candidate.kinds]
    used_q: set[int] = set()
    used_c: set[int] = set()
    pairs: list[TokenPair] = []
    matched = 0.0
    paired_weight = 0.0
    distinctive = False
    for option in _options(query, candidate, abjad):
        if used_q.intersection(option.query) or used_c.intersection(option.candidate):
            continue
        used_q.update(option.query)
        used_c.update(option.candidate)
        weight = (
            sum(q_weights[i] for i in option.query) + sum(c_weights[j] for j in option.candidate)
        ) / 2
        matched += weight * option.similarity**SIMILARITY_EXPONENT
        paired_weight += weight
        kinds = {query.kinds[i] for i in option.query} | {
            candidate.kinds[j] for j in option.candidate
        }
        if option.similarity >= DISTINCTIVE_SIMILARITY and (
            TokenKind.NAME in kinds or TokenKind.NUMBER in kinds
        ):
            distinctive = True
        pairs.append(
            TokenPair(
                " ".join(query.tokens[i] for i in option.query),
                " ".join(candidate.tokens[j] for j in option.candidate),
                round(option.similarity, 3),
            )
        )
    leftover_q = [i for i in range(len(query.tokens)) if i not in used_q]
    leftover_c = [j for j in range(len(candidate.tokens)) if j not in used_c]
    total = (
        paired_weight
        + QUERY_LEFTOVER_COST * sum(q_weights[i] for i in leftover_q)
        + CANDIDATE_LEFTOVER_COST * sum(c_weights[j] for j in leftover_c)
    )
    score = matched / total if total else 0.0
    adjustments: list[str] = []
    if not distinctive and score > NO_DISTINCTIVE_CAP:
        score = NO_DISTINCTIVE_CAP
        adjustments.append(f"no distinctive word in common: capped at {NO_DISTINCTIVE_CAP}")
    if any(query.kinds[i] is TokenKind.PATRONYMIC for i in leftover_q) and any(
        candidate.kinds[j] is TokenKind.PATRONYMIC for j in leftover_c
    ):
        score *= PATRONYMIC_MISMATCH
        adjustments.append(f"different patronymics: x{PATRONYMIC_MISMATCH}")
    if _lineage_swapped(query, candidate, pairs):
        score *= LINEAGE_SWAPPED
        adjustments.append(f"given name and father's name swapped: x{LINEAGE_SWAPPED}")
    strong_q = query.legal_forms & STRONG_LEGAL_FORMS
    strong_c = candidate.legal_forms & STRONG_LEGAL_FORMS
    if strong_q and strong_c and not strong_q & strong_c:
        score *= LEGAL_FORM_MISMATCH
        adjustments.append(
            f"different legal forms ({', '.join(sorted(strong_q))} vs "
            f"{', '.join(sorted(strong_c))}): x{LEGAL_FORM_MISMATCH}"
        )
    return Comparison(
        round(score, 4),
        tuple(pairs),
        tuple(query.tokens[i] for i in leftover_q),
        tuple(candidate.tokens[j] for j in leftover_c),
        tuple(adjustments),
    )
