from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# Called with (bytes read so far, total bytes) while a file is read.
Progress = Callable[[int, int], None]


class ListFormatError(ValueError):
    """A list file that cannot be read whole; nothing of it should be used."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")
