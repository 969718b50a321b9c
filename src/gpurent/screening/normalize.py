"""From a name as written to the tokens that are compared.

Every name passes through the same steps: Unicode compatibility folding, transliteration
of non-Latin scripts to ASCII (ICU, through normality: Cyrillic, Han as pinyin syllables,
Arabic, Greek...; Hangul as the lists spell Korean names, hangul.py), case folding,
dotted abbreviations closed up ("A.B.C." -> "abc"), Roman numerals and number words to
digits, abbreviations and plurals of common words to one form ("Intl Hldgs" ->
"international holding"), and legal forms to a canonical token ("Co., Ltd." and
"Company Limited" both end as `co llc`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import icu  # type: ignore[import-untyped]
from normality import ascii_text
from rigour.names import replace_org_types_compare

from .hangul import has_hangul, romanize
from .vocab import (
    GENERIC_WORDS,
    LEGAL_FORMS,
    NUMBER_WORDS,
    ORDINAL_WORDS,
    PARTICLES,
    PINYIN_FIRST_SYLLABLES,
    PINYIN_LEGAL_PHRASES,
    PINYIN_WORDS,
    PLACE_WORDS,
    ROMAN_NUMERALS,
    TITLES,
    WORD_FORMS,
)


class TokenKind(StrEnum):
    """How much a token says about who a party is."""

    NAME = "name"
    GENERIC = "generic"
    PLACE = "place"
    PARTICLE = "particle"
    NUMBER = "number"
    PATRONYMIC = "patronymic"


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name reduced for comparison: its tokens and what kind each one is."""

    original: str
    tokens: tuple[str, ...]
    kinds: tuple[TokenKind, ...]
    legal_forms: frozenset[str]
    # Written in an abjad (Arabic, Hebrew): transliteration drops most vowels.
    abjad: bool = False

    @property
    def key(self) -> str:
        return " ".join(self.tokens)

    def identity_tokens(self) -> list[str]:
        """Tokens that can identify a party on their own."""
        return [t for t, k in zip(self.tokens, self.kinds, strict=True) if k is TokenKind.NAME]


_ABBREVIATION = re.compile(r"\b(?:\w\.){2,}\w?\.?")
# ASCII and typographic apostrophes, acute accent, modifier letters, middle dot.
_APOSTROPHES = re.compile("['\u2019\u2018`\u00b4\u02bc\u02b9\u00b7]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_DIGITS_SUFFIX = re.compile(r"^(\d+)(st|nd|rd|th)$")


_ROMAN = re.compile(r"\b(?:" + "|".join(sorted(ROMAN_NUMERALS, key=len, reverse=True)) + r")\b")
_PATRONYMIC = re.compile(r"..(ovich|evich|ovych|yevich|ovna|evna|ivna|ogly|kyzy)$")
_ABJAD = re.compile(r"[\u0590-\u06ff\u0750-\u077f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@lru_cache(maxsize=1)
def _russian_to_latin() -> icu.Transliterator:
    # BGN/PCGN romanization is how English-language lists spell Russian names
    # ("Shchukin", not ISO 9's "Ŝukin").
    return icu.Transliterator.createInstance("Russian-Latin/BGN; Latin-ASCII")


@lru_cache(maxsize=65536)
def latin(text: str) -> str:
    """ASCII lower-case text, legal forms canonical, scripts transliterated."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ABBREVIATION.sub(lambda m: m.group().replace(".", ""), text)
    text = _APOSTROPHES.sub("", text).replace("&", " and ")
    # Roman numerals from II on ("Fund III" -> "Fund 3"), before the legal-form table
    # can take one for an abbreviation.
    text = _ROMAN.sub(lambda m: str(ROMAN_NUMERALS[m.group()]), text)
    # rigour knows legal forms in many scripts, so this runs before transliteration.
    text = replace_org_types_compare(text, generic=True) or text
    if not text.isascii():
        if has_hangul(text):
            text = romanize(text)
        if _CYRILLIC.search(text):
            text = _russian_to_latin().transliterate(text)
        text = ascii_text(_APOSTROPHES.sub("", text)) or ""
    return _SEPARATORS.sub(" ", _APOSTROPHES.sub("", text.lower())).strip()


def _numbers(tokens: list[str]) -> list[str]:
    """Number words to digits: "forty four" and "forty 4" -> "44", "1st" and "first" ->
    "1"."""
    out: list[str] = []
    tens = False  # the previous token was a word for a multiple of ten
    for token in tokens:
        suffixed = _DIGITS_SUFFIX.match(token)
        value: int | None = None
        if suffixed:
            value = int(suffixed.group(1))
        elif token in ORDINAL_WORDS:
            value = ORDINAL_WORDS[token]
        elif token in NUMBER_WORDS:
            value = NUMBER_WORDS[token]
        elif len(token) == 1 and token.isdigit():
            value = int(token)
        if value is None:
            out.append(token)
        elif tens and 0 < value < 10:
            out[-1] = str(int(out[-1]) + value)
        else:
            out.append(str(value))
        tens = token in NUMBER_WORDS and value is not None and value >= 20 and value % 10 == 0
    return out


def _pinyin_legal_forms(tokens: list[str]) -> list[str]:
    if "si" not in tokens and "tuan" not in tokens:
        return tokens
    for phrase, canonical in PINYIN_LEGAL_PHRASES:
        size = len(phrase)
        i = 0
        while i + size <= len(tokens):
            if tuple(tokens[i : i + size]) == phrase:
                tokens[i : i + size] = [canonical]
            i += 1
    return tokens


def _pinyin_words(tokens: list[str]) -> list[str]:
    if PINYIN_FIRST_SYLLABLES.isdisjoint(tokens):
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        word = PINYIN_WORDS.get((tokens[i], tokens[i + 1])) if i + 1 < len(tokens) else None
        if word is None:
            out.append(tokens[i])
            i += 1
        else:
            out.extend(word.split())
            i += 2
    return out


def _kind(token: str) -> TokenKind:
    if token.isdigit():
        return TokenKind.NUMBER
    if token in PARTICLES or token in TITLES:
        return TokenKind.PARTICLE
    if _PATRONYMIC.search(token):
        return TokenKind.PATRONYMIC
    if token in GENERIC_WORDS:
        return TokenKind.GENERIC
    if token in PLACE_WORDS:
        return TokenKind.PLACE
    return TokenKind.NAME


@lru_cache(maxsize=65536)
def analyze(name: str) -> NameForm:
    """Reduce a name to its comparable form."""
    tokens = _numbers(_pinyin_words(_pinyin_legal_forms(latin(name).split())))
    tokens = [WORD_FORMS.get(t, t) for t in tokens]
    legal = frozenset(LEGAL_FORMS[t] for t in tokens if t in LEGAL_FORMS)
    # Repeated words ("Sergey Sergey Shoigu") say nothing more the second time.
    kept = list(dict.fromkeys(t for t in tokens if t not in LEGAL_FORMS))
    return NameForm(
        name,
        tuple(kept),
        tuple(_kind(t) for t in kept),
        legal,
        abjad=bool(_ABJAD.search(name)),
    )
