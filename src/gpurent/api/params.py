"""Path and query parameter types shared by every router (bounds from gpurent.bounds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from gpurent.bounds import MAX_ID, MAX_OFFSET

# A database id: 1 .. 2^31-1, what the id columns hold on every database (422 beyond).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"an id (1 .. {MAX_ID})")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many to skip")]
