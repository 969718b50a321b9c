"""Audit log API: verify the chain, export it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.audit import service

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verify")
def verify(
    session: SessionDep, who: Principal = principal_with(Permission.AUDIT)
) -> dict[str, Any]:
    service.seal(session)
    checked, problems = service.verify(session)
    return {
        "records": checked,
        "intact": not problems,
        "problems": [{"seq": p.seq, "record_id": p.record_id, "what": p.what} for p in problems],
    }


@router.get("/export", response_class=PlainTextResponse)
def export(session: SessionDep, who: Principal = principal_with(Permission.AUDIT)) -> str:
    """JSON lines, in chain order."""
    service.seal(session)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in service.export(session))
    service.write_checkpoint(session)
    return text
