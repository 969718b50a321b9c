"""Screening API and the list versions in force."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gpurent.api.deps import SessionDep
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


@router.post("/v1/screenings")
def screen(query: ScreeningQuery, request: Request, session: SessionDep) -> ScreeningOut:
    screener = service.screener(session, _threshold(request))
    matches = screener.screen(query.name, query.country, query.party_type)
    return ScreeningOut(
        query=query.name, country=query.country, matches=[MatchOut.of(m) for m in matches]
    )


@router.post("/v1/screenings/batch")
def screen_batch(
    batch: BatchScreeningIn, request: Request, session: SessionDep
) -> BatchScreeningOut:
    screener = service.screener(session, _threshold(request))
    return BatchScreeningOut(
        results=[
            ScreeningOut(
                query=q.name,
                country=q.country,
                matches=[MatchOut.of(m) for m in screener.screen(q.name, q.country, q.party_type)],
            )
            for q in batch.queries
        ]
    )


@router.get("/v1/lists")
def list_versions(session: SessionDep, history: bool = False) -> list[ListVersionOut]:
    versions = service.version_history(session) if history else service.current_versions(session)
    return [ListVersionOut.of(v) for v in versions]
