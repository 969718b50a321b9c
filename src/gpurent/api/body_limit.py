"""A ceiling on request bodies (GPURENT_MAX_BODY_BYTES), before anything parses them."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpurent.api.errors import error_body, error_response


class BodyLimit:
    """Refuses a body over ``max_bytes`` with 413: at once when Content-Length says so,
    else as soon as the bytes received pass the limit (a chunked upload)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (GPURENT_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = error_response(413, [error_body("too_large", self._message())])
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Rendered by the HTTPException handler (413, the usual error shape).
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)
