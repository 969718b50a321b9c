"""``GpurentClient``: every operation of a gpurent server's API, typed with the server's
own schemas."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from gpurent.client.catalog import CatalogCalls, FleetCalls
from gpurent.client.compliance import AccountCalls, ComplianceCalls, ScreeningCalls
from gpurent.client.leases import JobCalls, LeaseCalls
from gpurent.client.transport import Transport


class GpurentClient(
    CatalogCalls, FleetCalls, LeaseCalls, JobCalls, AccountCalls, ScreeningCalls, ComplianceCalls
):
    """A gpurent server, called with one token.

    >>> with GpurentClient("http://127.0.0.1:8000", token) as api:
    ...     lease = api.create_lease(LeaseRequest(gpu_model="A100-80GB", gpus=2, hours=1))

    Methods take and return the schemas of the server (``gpurent.<domain>.schemas``);
    error answers raise ``gpurent.errors`` classes carrying the server's items (code,
    msg, fields); GETs and bookings are retried on connection failures and 502-504;
    listings with a total have ``iter_*`` companions that page through everything.
    """

    def __init__(self, url: str, token: str | None = None, **transport: Any) -> None:
        super().__init__(Transport(url, token, **transport))

    @property
    def url(self) -> str:
        return self._transport.base_url

    def health(self) -> bool:
        """Whether the server and its database answer (needs no token)."""
        return self._transport.request("GET", "/healthz").status_code == 200

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Any operation by its path, for what has no method here yet: the answer's JSON
        (errors raise like every method's; GETs are retried)."""
        return self._json(method, path, body, params=params, idempotent=idempotent)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> GpurentClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
