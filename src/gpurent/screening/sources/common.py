"""Helpers shared by the readers."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO

import pycountry

from .errors import ListFormatError, Progress

# Names the lists use that ISO 3166 spells otherwise.
COUNTRY_ALIASES = {
    "burma": "MM",
    "russia": "RU",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "iran": "IR",
    "syria": "SY",
    "venezuela": "VE",
    "bolivia": "BO",
    "tanzania": "TZ",
    "moldova": "MD",
    "laos": "LA",
    "vietnam": "VN",
    "taiwan": "TW",
    "macau": "MO",
    "macao": "MO",
    "hong kong": "HK",
    "turkey": "TR",
    "west bank": "PS",
    "gaza": "PS",
    "palestinian": "PS",
    "congo, democratic republic of the": "CD",
    "congo, republic of the": "CG",
    "cote d ivoire": "CI",
    "the gambia": "GM",
    "bahamas, the": "BS",
    "region: crimea": "UA",
    "kosovo": "XK",
    "czech republic": "CZ",
    "uk": "GB",
    "england": "GB",
    "usa": "US",
    "united states of america": "US",
}


@lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """ISO alpha-2 code of a country written as a name or a code, or None."""
    if not value or not value.strip():
        return None
    key = " ".join(value.replace("'", " ").replace(".", " ").split()).lower()
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    try:
        return str(pycountry.countries.lookup(value.strip()).alpha_2)
    except LookupError:
        return None


def stable_id(*parts: str | None) -> str:
    """An identifier for lists whose rows carry none (the DPL, older CSL rows)."""
    digest = hashlib.sha1("\x1f".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:16]


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


class CountingReader(io.RawIOBase):
    """A binary file that reports how far it has been read."""

    def __init__(self, path: Path, progress: Progress | None) -> None:
        self._file = path.open("rb")
        self._total = path.stat().st_size
        self._done = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._file.readinto(buffer)
        self._done += n or 0
        if self._progress is not None:
            self._progress(self._done, self._total)
        return n or 0

    def close(self) -> None:
        self._file.close()
        super().close()


def open_text(path: Path, progress: Progress | None, encoding: str = "utf-8") -> IO[str]:
    raw = io.BufferedReader(CountingReader(path, progress), buffer_size=1 << 16)
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def check_complete(path: Path) -> None:
    """A text list file ends with a line break (or OFAC's 0x1A); anything else was cut."""
    size = path.stat().st_size
    if size == 0:
        raise ListFormatError(path, None, "file is empty")
    with path.open("rb") as f:
        f.seek(max(0, size - 2))
        tail = f.read()
    if not tail.endswith((b"\n", b"\x1a", b"\r")):
        raise ListFormatError(path, None, "file ends in the middle of a record (truncated?)")


def decode_lines(path: Path, lines: Iterator[str]) -> Iterator[str]:
    try:
        yield from lines
    except UnicodeDecodeError as exc:
        raise ListFormatError(path, None, f"not UTF-8 text: {exc.reason}") from exc
