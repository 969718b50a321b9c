"""Readers for the official list formats; each returns a `ParsedList` or raises
`ListFormatError` naming the file, the line and the problem."""

from .detect import ListFormat, detect_format, read_list
from .errors import ListFormatError

__all__ = ["ListFormat", "ListFormatError", "detect_format", "read_list"]
