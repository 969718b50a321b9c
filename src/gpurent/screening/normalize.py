"""From a name as written to the tokens that are compared.

Every name passes through the same steps: Unicode compatibility folding, transliteration
of non-Latin scripts to ASCII (ICU, through normality: Cyrillic, Han as pinyin syllables,
Arabic, Greek...), case folding, dotted abbreviations closed up ("A.B.C." -> "abc"),
number words to digits, and legal forms to a canonical token ("Co., Ltd." and "Company
Limited" both end as `co llc`).
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
    TITLES,
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
    # rigour knows legal forms in many scripts, so this runs before transliteration.
    text = replace_org_types_compare(text, generic=True) or text
    if not text.isascii():
        if _CYRILLIC.search(text):
            text = _russian_to_latin().transliterate(text)
        text = ascii_text(_APOSTROPHES.sub("", text)) or ""
    return _SEPARATORS.sub(" ", _APOSTROPHES.sub("", text.lower())).strip()


def _numbers(tokens: list[str]) -> list[str]:
    """Number words to digits: "forty four" -> "44", "1st" and "first" -> "1"."""
    out: list[str] = []
    for token in tokens:
        suffixed = _DIGITS_SUFFIX.match(token)
        if suffixed:
            out.append(suffixed.group(1))
        elif token in ORDINAL_WORDS:
            out.append(str(ORDINAL_WORDS[token]))
        elif token in NUMBER_WORDS:
            value = NUMBER_WORDS[token]
            previous = out[-1] if out else ""
            if previous.isdigit() and int(previous) % 10 == 0 and 0 < value < 10:
                out[-1] = str(int(previous) + value)
            else:
                out.append(str(value))
        else:
            out.append(token)
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
