"""HTTP for the client: the token, timeouts, and retries of calls that are safe to repeat."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gpurent import __version__
from gpurent.client.errors import ConnectionFailedError, error_from_response

# Answers that say "try again" (a proxy or a server restarting), not "you were wrong".
RETRY_STATUSES = frozenset({502, 503, 504})


class Transport:
    """One keep-alive connection pool to a server, with the caller's token.

    Idempotent calls (GET, and bookings under an ``Idempotency-Key``) are retried on
    connection failures and 502/503/504, with exponential backoff; other calls are
    retried only when the connection failed before the request was sent.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"User-Agent": f"gpurent-client/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._http.headers.update(headers)
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send, retrying what is safe to retry; an error answer raises the family's error."""
        repeatable = method == "GET" if idempotent is None else idempotent
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, self.base_url + path, params=query, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt >= self._retries or (sent and not repeatable):
                    raise ConnectionFailedError(f"{self.base_url}: {_describe(exc)}") from exc
            else:
                if not (repeatable and response.status_code in RETRY_STATUSES):
                    break
                if attempt >= self._retries:
                    break
            self._sleep(self._backoff * 2**attempt)
            attempt += 1
        if response.status_code >= 400:
            raise error_from_response(response)
        return response


def _param(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return f"cannot reach the server ({text})"
