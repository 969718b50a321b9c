"""Every error leaves the API in one shape: ``{"detail": [{"code", "msg", "fields"}]}``."""

from __future__ import annotations

import logging
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
}


def error_body(code: str, msg: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "fields": fields or []}


def _respond(status: int, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": items})


async def _gpurent_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GpurentError)
    return _respond(exc.status_code, [asdict(item) for item in exc.items])


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
    return _respond(422, items)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return _respond(exc.status_code, [error_body(code, str(exc.detail))])


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _respond(500, [error_body("internal", "internal server error")])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GpurentError, _gpurent_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
