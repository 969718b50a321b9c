"""The client's errors: the server's own error family, rebuilt from its answers.

A server answers every error as ``{"detail": [{"code", "msg", "fields"}]}``. The client
raises the ``gpurent.errors`` class of that status (``NotFoundError`` for 404, ...) with
the server's items, so that code catching ``GpurentError`` works the same against a
local database and a remote server.
"""

from __future__ import annotations

from typing import Any

import httpx

from gpurent.errors import (
    ConflictError,
    ErrorItem,
    ForbiddenError,
    GpurentError,
    InvalidInputError,
    NotFoundError,
    UnauthenticatedError,
)


class ApiError(GpurentError):
    """An error answer with a status the family has no class for (413, 405, ...)."""

    code = "api_error"


class ServerError(GpurentError):
    """The server failed (5xx): nothing the caller sent was wrong."""

    status_code = 500
    code = "server_error"


class ConnectionFailedError(GpurentError):
    """The server could not be reached, or stopped answering."""

    status_code = 503
    code = "unreachable"


class UnexpectedAnswerError(GpurentError):
    """An answer that does not fit the schema this client expects (another version?)."""

    status_code = 502
    code = "unexpected_answer"


_BY_STATUS: dict[int, type[GpurentError]] = {
    401: UnauthenticatedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
}


def _items(body: Any, status: int) -> list[ErrorItem]:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        items = [
            ErrorItem(
                str(item.get("code", "error")),
                str(item.get("msg", "")),
                [str(f) for f in item.get("fields") or []],
            )
            for item in detail
            if isinstance(item, dict)
        ]
        if items:
            return items
    return [ErrorItem("http_error", f"the server answered {status}")]


def error_from_response(response: httpx.Response) -> GpurentError:
    """The family's error for an error response, carrying the server's items."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    items = _items(body, status)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    error = cls.__new__(cls)
    Exception.__init__(error, "; ".join(item.msg for item in items))
    error.items = items
    error.status_code = status
    error.code = items[0].code
    return error
