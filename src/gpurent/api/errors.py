"""Every error leaves the API in one shape: ``{"detail": [{"code", "msg", "fields"}]}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gpurent.errors import GpurentError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}

# Messages may quote what the client sent (a name not found, a key not allowed): they are
# cut short, so that no error echoes a large body back.
MAX_MSG = 500
MAX_FIELD = 200
MAX_ITEMS = 100


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_body(code: str, msg: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "msg": _cut(msg, MAX_MSG),
        "fields": [_cut(f, MAX_FIELD) for f in (fields or [])[:MAX_ITEMS]],
    }


def error_response(
    status: int, items: list[dict[str, Any]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": items[:MAX_ITEMS]}, headers=headers)


async def _gpurent_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GpurentError)
    items = [error_body(**asdict(item)) for item in exc.items]
    return error_response(exc.status_code, items)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [
        error_body(
            "invalid",
            str(error["msg"]),
            [".".join(str(part) for part in error["loc"])],
        )
        for error in exc.errors()
    ]
    return error_response(422, items)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # A body that is not UTF-8 JSON at all: invalid input, like any other (FastAPI
        # answers 422 for malformed JSON but 400 for bytes it cannot decode).
        return error_response(422, [error_body("invalid", str(exc.detail), ["body"])])
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, [error_body(code, str(exc.detail))], exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, [error_body("internal", "internal server error")])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GpurentError, _gpurent_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
