"""Find the list names worth comparing with a query, without comparing them all.

Every distinctive token of every list name is indexed, with its one-letter deletions
(so one typo still meets: "huawie" and "huawei" share "huawe"), its sound (metaphone)
and the joins of neighbouring tokens ("hua wei" -> "huawei"). A query collects the
names that share such keys, ranks them by the rarity of what they share (inverse
document frequency) and hands the best few to the full comparison, after every name made
of exactly its words (which rarity alone can rank out: "Gazprom Media Holding" among a
hundred names with "gazprom").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache

from rigour.text.phonetics import metaphone

from .normalize import NameForm, TokenKind

# Tokens shorter than this are only found exactly (a deletion of "li" is "l").
MIN_FUZZY_LENGTH = 4
MIN_SOUND_LENGTH = 4
# A token found through a typo or sound key counts for this share of an exact one.
FUZZY_WEIGHT = 0.6
# Candidates sharing less than this share of the best candidate's weight are not compared.
RELATIVE_CUTOFF = 0.5
# Names split into short parts ("hua wei", "good will") are also indexed joined.
MAX_JOINED_PART = 4
INDEXED_KINDS = frozenset({TokenKind.NAME, TokenKind.NUMBER, TokenKind.PATRONYMIC})


@lru_cache(maxsize=65536)
def _sound(token: str) -> str:
    return metaphone(token)


def token_keys(token: str) -> Iterator[str]:
    """The keys a token is found under."""
    yield token
    if len(token) >= MIN_FUZZY_LENGTH and not token.isdigit():
        for i in range(len(token)):
            yield "~" + token[:i] + token[i + 1 :]
        yield "~" + token
    if len(token) >= MIN_SOUND_LENGTH and not token.isdigit():
        yield "#" + _sound(token)


def form_tokens(form: NameForm) -> list[str]:
    """Distinctive tokens of a name, with the joins of a short token and its neighbour.
    A name made only of common words ("China Telecom") is found by those words."""
    pairs = list(zip(form.tokens, form.kinds, strict=True))
    tokens = [t for t, k in pairs if k in INDEXED_KINDS]
    if not tokens:
        tokens = [t for t, k in pairs if k is not TokenKind.PARTICLE]
    joined = [
        a + b
        for a, b in zip(form.tokens, form.tokens[1:], strict=False)
        if min(len(a), len(b)) <= MAX_JOINED_PART
    ]
    return tokens + joined


class NameIndex:
    """From tokens to the names holding them, and from typo and sound keys to tokens."""

    def __init__(self) -> None:
        self._names_by_token: dict[str, list[int]] = defaultdict(list)
        # Names by their words, in any order: an exact name is always compared.
        self._names_by_words: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._tokens_by_key: dict[str, list[str]] = defaultdict(list)
        self._size = 0

    def add(self, name_id: int, form: NameForm) -> None:
        self._size += 1
        self._names_by_words[tuple(sorted(form.tokens))].append(name_id)
        for token in set(form_tokens(form)):
            postings = self._names_by_token[token]
            if not postings:
                for key in token_keys(token):
                    if key != token:
                        self._tokens_by_key[key].append(token)
            postings.append(name_id)

    def idf(self, token: str) -> float:
        count = len(self._names_by_token.get(token, ()))
        return math.log(1 + self._size / count) if count else 0.0

    def similar_tokens(self, token: str) -> dict[str, float]:
        """Indexed tokens that may be `token` misspelt or sounding alike, with a weight."""
        found: dict[str, float] = {}
        if token in self._names_by_token:
            found[token] = 1.0
        for key in token_keys(token):
            for other in self._tokens_by_key.get(key, ()):
                found.setdefault(other, FUZZY_WEIGHT)
        return found

    def candidates(self, form: NameForm, limit: int) -> list[int]:
        """Ids of the names most worth comparing with `form`, best first."""
        scores: dict[int, float] = defaultdict(float)
        for token in set(form_tokens(form)):
            best: dict[int, float] = {}
            for other, factor in self.similar_tokens(token).items():
                weight = self.idf(other) * factor
                for name_id in self._names_by_token[other]:
                    if weight > best.get(name_id, 0.0):
                        best[name_id] = weight
            for name_id, weight in best.items():
                scores[name_id] += weight
        # Ties go to the earlier name, so that results never depend on hash order.
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        exact = self._names_by_words.get(tuple(sorted(form.tokens)), [])
        if not ranked:
            return list(exact)
        # Names sharing far less than the best candidate cannot outscore it: skip them.
        floor = ranked[0][1] * RELATIVE_CUTOFF
        shared = [name_id for name_id, score in ranked[:limit] if score >= floor]
        return list(dict.fromkeys([*exact, *shared]))

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def build(forms: Iterable[NameForm]) -> NameIndex:
        index = NameIndex()
        for name_id, form in enumerate(forms):
            index.add(name_id, form)
        return index
