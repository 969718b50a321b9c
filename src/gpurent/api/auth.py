"""Who is calling, and whether they may: every endpoint but /healthz and /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Permission, allows
from gpurent.accounts.service import Principal
from gpurent.api.deps import SessionDep
from gpurent.errors import ForbiddenError, UnauthenticatedError

# Tokens looked up in the last few seconds are trusted without a query (revocation takes
# at most this long to bite).
CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, Principal]] = {}
_lock = threading.Lock()


# Declares the bearer scheme in the OpenAPI document (Swagger's Authorize button); the
# 401 for a missing token is ours, in the usual error shape.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="a gpurent API token (gpr_...)"
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str:
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise UnauthenticatedError(
            "this endpoint needs a token: Authorization: Bearer gpr_... (gpurent token create)"
        )
    return token


async def current_principal(credentials: Credentials, session: SessionDep) -> Principal:
    # async: a cached token costs no trip through the thread pool (the booking path).
    token = _bearer(credentials)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(token)
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    principal = await run_in_threadpool(accounts.principal_for, session, token)
    if principal is None:
        raise UnauthenticatedError("unknown or revoked token")
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[token] = (now, principal)
    return principal


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not allows(principal.role, permission):
            raise ForbiddenError(f"a {principal.role} may not {permission.value}")
        return principal

    return dependency


def forget_cached_tokens() -> None:
    with _lock:
        _cache.clear()


def allowed(permission: Permission) -> Any:
    """For a route's ``dependencies=[...]`` when it needs no principal of its own."""
    return Depends(require(permission))


def principal_with(permission: Permission) -> Any:
    """For a route parameter: ``who: Principal = principal_with(Permission.X)``."""
    return Depends(require(permission))
