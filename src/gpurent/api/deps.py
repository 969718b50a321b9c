"""Dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gpurent.db.engine import session_scope


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; services commit, anything left uncommitted rolls back."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
