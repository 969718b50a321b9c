"""Hangul to the Latin spelling that lists and passports use for Korean names.

ICU's romanization runs the syllables of a name together in the Revised Romanization
("gimjeong-eun"), while the lists write "Kim Jong Un": a syllable per word, the vowels
ŏ and ŭ of McCune-Reischauer without their marks, and the family names as their
bearers spell them (Kim, Lee, Park). Each syllable becomes a token here, so that the
comparison can pair "jong un" with "jongun" as it pairs any split word.
"""

from __future__ import annotations

import re

_FIRST, _LAST = 0xAC00, 0xD7A3
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch",
             "k", "t", "p", "h")  # fmt: skip
_VOWELS = ("a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u",
           "wo", "we", "wi", "yu", "u", "ui", "i")  # fmt: skip
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m",
           "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")  # fmt: skip
# Family names as their bearers write them in Latin letters.
FAMILY_NAMES: dict[str, str] = {
    "김": "kim", "이": "lee", "박": "park", "최": "choi", "정": "jung", "강": "kang",
    "조": "cho", "윤": "yoon", "장": "jang", "임": "lim", "한": "han", "오": "oh",
    "서": "seo", "신": "shin", "권": "kwon", "황": "hwang", "안": "ahn", "송": "song",
    "류": "ryu", "홍": "hong", "전": "jeon", "고": "ko", "문": "moon", "손": "son",
    "양": "yang", "배": "bae", "백": "baek", "허": "heo", "노": "noh", "남": "nam",
}  # fmt: skip
_WORD = re.compile("[\uac00-\ud7a3]+")


def syllable(char: str) -> str:
    index = ord(char) - _FIRST
    initial, rest = divmod(index, 21 * 28)
    vowel, final = divmod(rest, 28)
    return _INITIALS[initial] + _VOWELS[vowel] + _FINALS[final]


def _word(match: re.Match[str]) -> str:
    chars = match.group()
    # A name of two or three syllables starts with the family name.
    first = FAMILY_NAMES.get(chars[0]) if len(chars) in (2, 3) else None
    parts = [first or syllable(chars[0]), *(syllable(c) for c in chars[1:])]
    return " " + " ".join(parts) + " "


def romanize(text: str) -> str:
    """Hangul words to Latin syllables; other text unchanged."""
    return _WORD.sub(_word, text)


def has_hangul(text: str) -> bool:
    return any(_FIRST <= ord(c) <= _LAST for c in text)
