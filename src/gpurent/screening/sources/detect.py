"""Recognize a list's format from its files, and read it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from gpurent.screening.entries import ParsedList

from .csl import read_csl_csv, read_csl_json
from .dpl import read_dpl
from .errors import ListFormatError, Progress
from .ofac_advanced import read_ofac_advanced
from .ofac_csv import SETS, read_ofac_csv
from .ofac_xml import read_ofac_xml


class ListFormat(StrEnum):
    OFAC_CSV = "ofac-csv"
    OFAC_XML = "ofac-xml"
    OFAC_ADVANCED_XML = "ofac-advanced-xml"
    CSL_CSV = "csl-csv"
    CSL_JSON = "csl-json"
    BIS_DPL = "bis-dpl"


def _head(path: Path, size: int = 4096) -> str:
    with path.open("rb") as f:
        return f.read(size).decode("utf-8", errors="replace").lstrip("\ufeff")


def _main_file(folder: Path) -> Path:
    """The one list file a folder holds (OFAC CSV sets count as one list)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    ofac = [p for p in files if p.stem.lower() in SETS and p.suffix.lower() == ".csv"]
    companions = {name for p in ofac for name in SETS[p.stem.lower()][2:]} | {p.name for p in ofac}
    others = [p for p in files if p.name not in companions and p.suffix.lower() != ".md"]
    candidates = ofac + others
    if len(candidates) != 1:
        names = ", ".join(p.name for p in candidates) or "no list files"
        raise ListFormatError(
            folder, None, f"a folder must hold one list's files; found {names}: name the file"
        )
    return candidates[0]


def detect_format(path: Path) -> tuple[ListFormat, Path]:
    """The format of `path` (a file, or a folder holding one list) and its main file."""
    if path.is_dir():
        path = _main_file(path)
    if not path.is_file():
        raise ListFormatError(path, None, "no such file")
    head = _head(path)
    suffix = path.suffix.lower()
    if suffix == ".xml" or head.startswith("<?xml") or head.startswith("<"):
        if "sanctions/1.0" in head or "<Sanctions" in head:
            return ListFormat.OFAC_ADVANCED_XML, path
        if "sdnList" in head:
            return ListFormat.OFAC_XML, path
        raise ListFormatError(path, None, "XML that is neither OFAC classic nor advanced")
    if suffix == ".json" or head.startswith(("{", "[")):
        return ListFormat.CSL_JSON, path
    first = head.splitlines()[0] if head else ""
    if first.replace('"', "").startswith("Name\tStreet_Address"):
        return ListFormat.BIS_DPL, path
    if first.startswith(("source,", "_id,", '"_id",', '"source",')):
        return ListFormat.CSL_CSV, path
    if path.stem.lower() in SETS:
        return ListFormat.OFAC_CSV, path
    raise ListFormatError(path, 1, "format not recognized: give --format")


def read_list(
    path: Path, fmt: ListFormat | None = None, progress: Progress | None = None
) -> ParsedList:
    """Read one list from `path`; raises ListFormatError, never returns half a list."""
    detected, main = detect_format(path)
    fmt = fmt or detected
    if fmt is ListFormat.OFAC_CSV:
        return read_ofac_csv(main, progress)
    if fmt is ListFormat.OFAC_XML:
        return read_ofac_xml(main, progress)
    if fmt is ListFormat.OFAC_ADVANCED_XML:
        return read_ofac_advanced(main, progress)
    if fmt is ListFormat.CSL_CSV:
        return read_csl_csv(main, progress)
    if fmt is ListFormat.CSL_JSON:
        return read_csl_json(main, progress)
    return read_dpl(main, progress)
