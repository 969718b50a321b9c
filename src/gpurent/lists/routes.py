"""Screening API and the list versions in force."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal
from gpurent.api.auth import allowed, principal_with
from gpurent.api.deps import SessionDep
from gpurent.audit import service as audit
from gpurent.lists import service
from gpurent.lists.schemas import (
    BatchScreeningIn,
    BatchScreeningOut,
    ListVersionOut,
    MatchOut,
    ScreeningOut,
    ScreeningQuery,
)

router = APIRouter(tags=["screening"])


def _threshold(request: Request) -> float:
    return float(request.app.state.settings.screening_threshold)


def _audit(session: SessionDep, who: Principal, queries: list[ScreeningQuery], hits: int) -> None:
    audit.record(
        session,
        who.actor,
        "screening",
        "screening",
        {"queries": [q.name for q in queries[:20]], "count": len(queries), "matches": hits},
    )
    session.commit()


@router.post("/v1/screenings")
def screen(
    query: ScreeningQuery,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.SCREEN),
) -> ScreeningOut:
    screener = service.screener(session, _threshold(request))
    matches = screener.screen(query.name, query.country, query.party_type)
    _audit(session, who, [query], sum(m.is_match for m in matches))
    return ScreeningOut(
        query=query.name, country=query.country, matches=[MatchOut.of(m) for m in matches]
    )


@router.post("/v1/screenings/batch")
def screen_batch(
    batch: BatchScreeningIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.SCREEN),
) -> BatchScreeningOut:
    screener = service.screener(session, _threshold(request))
    results = [
        ScreeningOut(
            query=q.name,
            country=q.country,
            matches=[MatchOut.of(m) for m in screener.screen(q.name, q.country, q.party_type)],
        )
        for q in batch.queries
    ]
    _audit(session, who, batch.queries, sum(m.is_match for r in results for m in r.matches))
    return BatchScreeningOut(results=results)


@router.get("/v1/lists", dependencies=[allowed(Permission.LISTS_READ)])
def list_versions(session: SessionDep, history: bool = False) -> list[ListVersionOut]:
    versions = service.version_history(session) if history else service.current_versions(session)
    return [ListVersionOut.of(v) for v in versions]
