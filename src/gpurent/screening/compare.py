"""Compare two names token by token and explain the score.

Tokens are paired greedily, best similarity first; a pair may join two adjacent tokens
of one side ("hua wei" ~ "huawei", "siemensag" ~ "siemens ag"). Each token weighs by
what it says about identity (a distinctive word 1, a generic word or place little, a
particle almost nothing); legal forms are compared apart. The score is the weighted
similarity of the pairs over the weight of everything on both sides, with tokens left
over on the list side costing less than on the query side (list names are often
longer: middle names, a city).

Two sets of rules: people's names are transliterated and reordered, so their words may
pair on sound and (from Arabic or Hebrew) on consonants; company names are words, so
theirs pair on spelling only, a word on one side only counts against, and a short
distinctive word must agree almost exactly. A name equal to the other, word for word,
scores 1 and every other pairing less, so an exact name always ranks first. Generic
words alone never make a match, unless every word agrees.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA
from rigour.text.phonetics import metaphone

from .normalize import NameForm, TokenKind


class Rules(StrEnum):
    """Which comparison rules suit two names."""

    PERSON = "person"
    ORGANIZATION = "organization"


WEIGHTS: dict[TokenKind, float] = {
    TokenKind.NAME: 1.0,
    TokenKind.NUMBER: 0.5,
    TokenKind.PATRONYMIC: 0.3,
    TokenKind.GENERIC: 0.35,
    TokenKind.PLACE: 0.35,
    TokenKind.PARTICLE: 0.1,
}
MIN_PAIR_SIMILARITY = {Rules.PERSON: 0.6, Rules.ORGANIZATION: 0.7}
# A leftover token costs this fraction of its weight (the list side's names run longer).
QUERY_LEFTOVER_COST = 1.0
CANDIDATE_LEFTOVER_COST = {Rules.PERSON: 0.5, Rules.ORGANIZATION: 1.0}
# Except a place: "Faberlic" is "Faberlic Europe".
CANDIDATE_PLACE_COST = 0.5
# A number on one side only or different numbers ("Victory 3", "Fund III" and "Fund IV")
# may be one of a series, worth a look.
NUMBER_LEFTOVER_COST = 0.25
# Pairs count by similarity to this power: a near miss on a whole word weighs less than
# its edit distance suggests ("castillo" is not "castro"), a far one (below FAR_PAIR)
# much less ("shamsuddin" is not "shahabuddin").
SIMILARITY_EXPONENT = 1.5
FAR_PAIR = 0.75
FAR_EXPONENT = 2.25
# Without a distinctive token paired at least this well, the score is capped.
DISTINCTIVE_SIMILARITY = {Rules.PERSON: 0.8, Rules.ORGANIZATION: 0.85}
# In a company name a distinctive word shorter than this must agree near exactly.
SHORT_WORD = 5
SHORT_WORD_SIMILARITY = 0.9
NO_DISTINCTIVE_CAP = 0.5
# A name of common words only matches when every word agrees at least this well.
EVERY_WORD_SIMILARITY = 0.9
# Anything short of the same words scores below an exact name.
PARTIAL_MAX = 0.99
# A company-name word on one side only: "Acme Development Bank" is not "Acme United
# Development Bank", "Acme Trust Co" is not "Acme Co".
ONE_SIDED_WORD = 0.85
# A person's name found whole in a longer one scores this much.
CONTAINED_NAME = 0.8
CONTAINED_MIN_WORDS = 2
CONTAINED_MAX_EXTRA = 2
CONTAINED_SIMILARITY = 0.85
LEGAL_FORM_MISMATCH = 0.9
# Different patronymics on both sides: a relative, not the same person.
PATRONYMIC_MISMATCH = 0.85
# "Omar bin Abdullah" is the son of "Abdullah bin Omar", not the same person.
LINEAGE_SWAPPED = 0.7
LINEAGE_PARTICLES = frozenset({"bin", "ibn", "bint", "ben"})
# Two spellings of a person's name that sound alike (metaphone) pair at least this
# well, when they start alike, are not short, and their letters are not too far apart
# ("husayn", "hussein"; but "cigna" sounds like "sana", "nike" like "nioec").
SOUNDS_ALIKE = 0.85
SOUNDS_ALIKE_MIN_SPELLING = 0.5
SOUNDS_ALIKE_MIN_LENGTH = 5
# People's names sharing a stem this long (and this share of the shorter) pair as well
# as a glued suffix: the same name with another language's ending.
STEM_LENGTH = 6
STEM_SHARE = 0.75
STRONG_LEGAL_FORMS = frozenset({"llc", "jsc", "lp"})
# An initial pairs with any name it starts ("j" ~ "john").
INITIAL = 0.75
# What a company name's generic and place words are in a person's name: names.
_PERSON_KINDS = {TokenKind.GENERIC: TokenKind.NAME, TokenKind.PLACE: TokenKind.NAME}

_VOWELS = re.compile(r"[aeiouy]")
_ABJAD_LETTERS = str.maketrans("pv", "bf")
# A given name is not the patronymic made from it ("oleksandr", "oleksandrovych").
_PATRONYMIC_SUFFIX = re.compile(r"(ovich|evich|ovych|yevich|ovna|evna|ivna)$")
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
    exact: bool = False
    rules: Rules = Rules.ORGANIZATION


@lru_cache(maxsize=65536)
def _sound(token: str) -> str:
    return metaphone(token)


def _skeleton(token: str) -> str:
    return _DOUBLES.sub(r"\1", _VOWELS.sub("", token[1:]) if len(token) > 1 else token)


def _skeletons(token: str) -> set[str]:
    """Consonant skeletons. The letters Arabic lacks are written with their neighbours
    (p as b, v as f); a w may be a vowel letter or a consonant (waw, vav: f here)."""
    token = token.translate(_ABJAD_LETTERS)
    return {_skeleton(token), _skeleton(token.replace("w", "")), _skeleton(token.replace("w", "f"))}


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


@lru_cache(maxsize=1 << 18)
def token_similarity(a: str, b: str, abjad: bool = False, person: bool = True) -> float:
    """Similarity of two tokens in [0, 1]; sound and skeletons only for people's names."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if len(a) == 1 or len(b) == 1:
        # An initial stands for any word that starts with it.
        return INITIAL if a[0] == b[0] else 0.0
    similarity = _spelling(a, b)
    if not person:
        return similarity
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    prefix = _common_prefix(short, long)
    if prefix >= STEM_LENGTH and prefix >= STEM_SHARE * len(short):
        # One name in two languages' forms: "alexandros", "alexander".
        similarity = max(similarity, 0.85)
    if (
        SOUNDS_ALIKE_MIN_SPELLING <= similarity < SOUNDS_ALIKE
        and min(len(a), len(b)) >= SOUNDS_ALIKE_MIN_LENGTH
        and a[0] == b[0]
        and _sound(a) == _sound(b)
    ):
        similarity = SOUNDS_ALIKE
    first_a, first_b = a[0].translate(_ABJAD_LETTERS), b[0].translate(_ABJAD_LETTERS)
    if abjad and (first_a == first_b or first_a in "aeiou" or first_b in "aeiou"):
        skel = max(OSA.normalized_similarity(x, y) for x in _skeletons(a) for y in _skeletons(b))
        similarity = max(similarity, 0.95 * skel)
    return similarity


def _spelling(a: str, b: str) -> float:
    similarity = OSA.normalized_similarity(a, b)
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 5 and len(long) - len(short) <= 3 and long.startswith(short):
        # A suffix glued on ("siemensag") or dropped ("faberlick").
        similarity = max(similarity, 0.85)
    return similarity


def infer_rules(query: NameForm, candidate: NameForm) -> Rules:
    """Company rules where either name has a legal form or a company word, else people's."""
    if query.legal_forms or candidate.legal_forms:
        return Rules.ORGANIZATION
    if TokenKind.GENERIC in query.kinds or TokenKind.GENERIC in candidate.kinds:
        return Rules.ORGANIZATION
    return Rules.PERSON


@dataclass(slots=True)
class _Option:
    similarity: float
    query: tuple[int, ...]
    candidate: tuple[int, ...]


def _options(query: NameForm, candidate: NameForm, abjad: bool, rules: Rules) -> list[_Option]:
    q, c = query.tokens, candidate.tokens
    person = rules is Rules.PERSON
    minimum = MIN_PAIR_SIMILARITY[rules]
    options: list[_Option] = []
    for i, qt in enumerate(q):
        for j, ct in enumerate(c):
            sim = token_similarity(qt, ct, abjad, person)
            if sim >= minimum:
                options.append(_Option(sim, (i,), (j,)))
    # Joined neighbours: one side writes as one word what the other writes as two.
    for i in range(len(q) - 1):
        joined = q[i] + q[i + 1]
        for j, ct in enumerate(c):
            if len(ct) == 1:
                continue
            sim = token_similarity(joined, ct, abjad, person)
            if sim >= minimum:
                options.append(_Option(sim, (i, i + 1), (j,)))
    for j in range(len(c) - 1):
        joined = c[j] + c[j + 1]
        for i, qt in enumerate(q):
            if len(qt) == 1:
                continue
            sim = token_similarity(qt, joined, abjad, person)
            if sim >= minimum:
                options.append(_Option(sim, (i,), (j, j + 1)))
    if person:
        options += _initials(q, c)
    options.sort(key=lambda o: (o.similarity, len(o.query) + len(o.candidate)), reverse=True)
    return options


def _initials(q: tuple[str, ...], c: tuple[str, ...]) -> list[_Option]:
    """Initials run together ("jc") pair with the names they stand for ("jean claude")."""
    options: list[_Option] = []
    for i, token in enumerate(q):
        size = len(token)
        if size in (2, 3) and not _VOWELS.search(token):
            for j in range(len(c) - size + 1):
                if all(c[j + k][0] == token[k] and len(c[j + k]) > 1 for k in range(size)):
                    options.append(_Option(INITIAL, (i,), tuple(range(j, j + size))))
    for j, token in enumerate(c):
        size = len(token)
        if size in (2, 3) and not _VOWELS.search(token):
            for i in range(len(q) - size + 1):
                if all(q[i + k][0] == token[k] and len(q[i + k]) > 1 for k in range(size)):
                    options.append(_Option(INITIAL, tuple(range(i, i + size)), (j,)))
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


def same_words(query: NameForm, candidate: NameForm, rules: Rules) -> bool:
    """The same words: in the same order for a company, in any order for a person
    ("PUTIN, Vladimir")."""
    if rules is Rules.PERSON:
        return Counter(query.tokens) == Counter(candidate.tokens)
    return query.tokens == candidate.tokens


def _distinctive(kinds: set[TokenKind], similarity: float, length: int, rules: Rules) -> bool:
    """Whether a pair says who a party is: a name word on both sides, agreeing well."""
    if rules is Rules.PERSON:
        return similarity >= DISTINCTIVE_SIMILARITY[rules] and bool(
            kinds & {TokenKind.NAME, TokenKind.NUMBER}
        )
    required = SHORT_WORD_SIMILARITY if length < SHORT_WORD else DISTINCTIVE_SIMILARITY[rules]
    return similarity >= required and kinds == {TokenKind.NAME}


@dataclass(slots=True)
class _Pairing:
    pairs: list[TokenPair]
    used_q: set[int]
    used_c: set[int]
    matched: float = 0.0
    paired_weight: float = 0.0
    distinctive: bool = False
    every_word: bool = True  # every pair agrees at least EVERY_WORD_SIMILARITY


def _pair(
    query: NameForm,
    candidate: NameForm,
    q_kinds: list[TokenKind],
    c_kinds: list[TokenKind],
    rules: Rules,
) -> _Pairing:
    abjad = query.abjad or candidate.abjad
    result = _Pairing([], set(), set())
    for option in _options(query, candidate, abjad, rules):
        if result.used_q.intersection(option.query) or result.used_c.intersection(option.candidate):
            continue
        result.used_q.update(option.query)
        result.used_c.update(option.candidate)
        weight = (
            sum(WEIGHTS[q_kinds[i]] for i in option.query)
            + sum(WEIGHTS[c_kinds[j]] for j in option.candidate)
        ) / 2
        result.matched += weight * _credit(option.similarity)
        result.paired_weight += weight
        q_text = " ".join(query.tokens[i] for i in option.query)
        c_text = " ".join(candidate.tokens[j] for j in option.candidate)
        kinds = {q_kinds[i] for i in option.query} | {c_kinds[j] for j in option.candidate}
        length = min(len(q_text.replace(" ", "")), len(c_text.replace(" ", "")))
        if _distinctive(kinds, option.similarity, length, rules):
            result.distinctive = True
        if option.similarity < EVERY_WORD_SIMILARITY:
            result.every_word = False
        result.pairs.append(TokenPair(q_text, c_text, round(option.similarity, 3)))
    return result


def _one_sided(
    query: NameForm,
    candidate: NameForm,
    leftover: tuple[list[int], list[int]],
    kinds: tuple[list[TokenKind], list[TokenKind]],
    paired_c: set[int],
) -> list[str]:
    """Company-name words on one side only that tell two parties apart: any word the
    query has beyond the list name, and a list word between words that paired."""
    telling = {TokenKind.NAME, TokenKind.GENERIC}
    (leftover_q, leftover_c), (q_kinds, c_kinds) = leftover, kinds
    words = [query.tokens[i] for i in leftover_q if q_kinds[i] in telling]
    if paired_c:
        first, last = min(paired_c), max(paired_c)
        words += [
            candidate.tokens[j] for j in leftover_c if first < j < last and c_kinds[j] in telling
        ]
    return words


def _credit(similarity: float) -> float:
    """What a pair adds, of its weight."""
    exponent = SIMILARITY_EXPONENT if similarity >= FAR_PAIR else FAR_EXPONENT
    return float(similarity**exponent)


def _contained(
    query: NameForm,
    candidate: NameForm,
    pairing: _Pairing,
    leftover: tuple[list[int], list[int]],
) -> bool:
    """Whether one person's name is the other's with a name or two left out ("Janan
    Agha" in "Janan Mohammad Ahmed Agha"): two words or more, long enough to say
    something, each spelt alike and one the same; a given name is not a patronymic."""
    words = [
        p
        for p in pairing.pairs
        if p.similarity >= CONTAINED_SIMILARITY
        and len(p.query) >= 4
        and " " not in p.query
        and (p.similarity == 1.0 or _PATRONYMIC_SUFFIX.search(p.candidate) is None)
    ]
    if len(words) < CONTAINED_MIN_WORDS or len(words) < len(pairing.pairs):
        return False
    if not any(p.similarity == 1.0 for p in words):
        return False
    content_q = [i for i in leftover[0] if query.kinds[i] is not TokenKind.PARTICLE]
    content_c = [j for j in leftover[1] if candidate.kinds[j] is not TokenKind.PARTICLE]
    extra = content_q or content_c
    return not (content_q and content_c) and len(extra) <= CONTAINED_MAX_EXTRA


def _leftover_cost(kind: TokenKind, rules: Rules | None) -> float:
    """What a token left over costs, of its weight; `rules` None for the query's side."""
    if kind is TokenKind.NUMBER:
        return NUMBER_LEFTOVER_COST
    if rules is None:
        return QUERY_LEFTOVER_COST
    if kind is TokenKind.PLACE:
        return CANDIDATE_PLACE_COST
    return CANDIDATE_LEFTOVER_COST[rules]


def _kinds(form: NameForm, person: bool) -> list[TokenKind]:
    """Token kinds under the rules: in a person's name company words are names; in a
    company's a single letter marks one of a series ("Fund I"), like a number."""
    if person:
        return [_PERSON_KINDS.get(k, k) for k in form.kinds]
    return [
        TokenKind.NUMBER if len(t) == 1 and k is TokenKind.NAME else k
        for t, k in zip(form.tokens, form.kinds, strict=True)
    ]


def compare(query: NameForm, candidate: NameForm, rules: Rules | None = None) -> Comparison:
    """Score how well `candidate` (a list name) matches `query`.

    `rules` says whether these are people's names or companies'; by default it is
    inferred from the names (legal forms and company words make a company)."""
    rules = rules or infer_rules(query, candidate)
    person = rules is Rules.PERSON
    q_kinds = _kinds(query, person)
    c_kinds = _kinds(candidate, person)
    words_agree = same_words(query, candidate, rules)
    # Exact: the legal forms too, so that of "China Telecom Corp Ltd" and "China
    # Telecom Corp" only one is the exact name of "China Telecom Corporation Limited".
    exact = words_agree and query.legal_forms == candidate.legal_forms
    pairing = _pair(query, candidate, q_kinds, c_kinds, rules)
    leftover_q = [i for i in range(len(query.tokens)) if i not in pairing.used_q]
    leftover_c = [j for j in range(len(candidate.tokens)) if j not in pairing.used_c]
    total = (
        pairing.paired_weight
        + sum(_leftover_cost(q_kinds[i], None) * WEIGHTS[q_kinds[i]] for i in leftover_q)
        + sum(_leftover_cost(c_kinds[j], rules) * WEIGHTS[c_kinds[j]] for j in leftover_c)
    )
    score = 1.0 if exact else min(PARTIAL_MAX, pairing.matched / total if total else 0.0)
    adjustments: list[str] = []
    if exact:
        adjustments.append("the same words: an exact name")
    elif words_agree:
        # Ranked: a legal form in common, then one side without, then none in common.
        if query.legal_forms & candidate.legal_forms:
            score = PARTIAL_MAX
        elif query.legal_forms and candidate.legal_forms:
            score = round(PARTIAL_MAX - 0.02, 2)
        else:
            score = round(PARTIAL_MAX - 0.01, 2)
        adjustments.append(f"the same words, not the same legal form: {score}")
    elif not pairing.distinctive and score > NO_DISTINCTIVE_CAP:
        content = [i for i in leftover_q if q_kinds[i] is not TokenKind.PARTICLE] + [
            j for j in leftover_c if c_kinds[j] is not TokenKind.PARTICLE
        ]
        if pairing.every_word and not content and pairing.pairs:
            adjustments.append("no distinctive word, but every word agrees")
        else:
            score = NO_DISTINCTIVE_CAP
            adjustments.append(f"no distinctive word in common: capped at {NO_DISTINCTIVE_CAP}")
    if (
        person
        and not words_agree
        and score < CONTAINED_NAME
        and _contained(query, candidate, pairing, (leftover_q, leftover_c))
    ):
        score = CONTAINED_NAME
        adjustments.append(f"every word of the shorter name found: {CONTAINED_NAME}")
    if not person and not words_agree:
        one_sided = _one_sided(
            query, candidate, (leftover_q, leftover_c), (q_kinds, c_kinds), pairing.used_c
        )
        if one_sided:
            score *= ONE_SIDED_WORD
            adjustments.append(f"on one side only: {', '.join(one_sided)}: x{ONE_SIDED_WORD}")
    if any(query.kinds[i] is TokenKind.PATRONYMIC for i in leftover_q) and any(
        candidate.kinds[j] is TokenKind.PATRONYMIC for j in leftover_c
    ):
        score *= PATRONYMIC_MISMATCH
        adjustments.append(f"different patronymics: x{PATRONYMIC_MISMATCH}")
    if _lineage_swapped(query, candidate, pairing.pairs):
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
        tuple(pairing.pairs),
        tuple(query.tokens[i] for i in leftover_q),
        tuple(candidate.tokens[j] for j in leftover_c),
        tuple(adjustments),
        exact,
        rules,
    )
