"""Restricted-party screening: read list files, normalize names, find and score matches.

A library on its own: it imports nothing else of gpurent, so it can be tested, reused and
benchmarked apart from the service.
"""

from .compare import Comparison, compare
from .entries import Address, ListEntry, OwnershipLink, ParsedList, PartyType
from .normalize import NameForm, analyze
from .screener import DEFAULT_THRESHOLD, Match, Screener
from .sources import ListFormat, ListFormatError, detect_format, read_list

__all__ = [
    "DEFAULT_THRESHOLD",
    "Address",
    "Comparison",
    "ListEntry",
    "ListFormat",
    "ListFormatError",
    "Match",
    "NameForm",
    "OwnershipLink",
    "ParsedList",
    "PartyType",
    "Screener",
    "analyze",
    "compare",
    "detect_format",
    "read_list",
]
