"""A Python client for gpurent servers: ``GpurentClient(url, token)``.

It takes and returns the server's own Pydantic schemas, raises the ``gpurent.errors``
family with the server's items, retries what is safe to retry, and pages through
listings (``iter_leases``, ``iter_gpus``).
"""

from gpurent.client.api import GpurentClient
from gpurent.client.base import Page
from gpurent.client.errors import (
    ApiError,
    ConnectionFailedError,
    ServerError,
    UnexpectedAnswerError,
)
from gpurent.client.leases import new_idempotency_key

__all__ = [
    "ApiError",
    "ConnectionFailedError",
    "GpurentClient",
    "Page",
    "ServerError",
    "UnexpectedAnswerError",
    "new_idempotency_key",
]
