"""The OpenAPI document says what the server sends: the gpurent error shape, bearer auth."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gpurent.errors import GpurentError

ERROR_SCHEMA = "ErrorResponse"
ERRORS = {
    "401": "No token, or an unknown or revoked one",
    "403": "The role may not do this, or compliance refused it",
    "404": "Not found (or not visible to this caller)",
    "409": "Conflicts with the current state (capacity, status, an idempotency key)",
    "422": "The request is invalid: each item names the fields",
}
TOO_LARGE = {"413": "The request body is larger than GPURENT_MAX_BODY_BYTES"}


def _family_statuses() -> dict[str, str]:
    """Any other 4xx that a GpurentError subclass carries (402 for an exhausted balance,
    ...): declared too, so that a new error class never goes undocumented."""
    found: dict[str, str] = {}
    pending: list[type[GpurentError]] = [GpurentError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        status = str(cls.status_code)
        if 400 <= cls.status_code < 500 and status not in ERRORS:
            found.setdefault(status, f"An error: {cls.code}")
    return dict(sorted(found.items()))


_METHODS = {"get", "put", "post", "delete", "patch"}


def _error_schemas() -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "stable, for programs"},
            "msg": {"type": "string", "description": "for people"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["code", "msg", "fields"],
    }
    response = {
        "type": "object",
        "properties": {
            "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}}
        },
        "required": ["detail"],
    }
    return {"ErrorItem": item, ERROR_SCHEMA: response}


def _error_response(description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def gpurent_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with its validation error schema replaced by ours on every
    operation under /v1 (all of which need a bearer token)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(_error_schemas())
    family = _family_statuses()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                errors = ERRORS | family | (TOO_LARGE if "requestBody" in operation else {})
                responses.update({code: _error_response(text) for code, text in errors.items()})
            else:
                responses.pop("422", None)
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = gpurent_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
