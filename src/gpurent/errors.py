"""The one error family of gpurent.

Every error a user can cause is a ``GpurentError`` with a stable ``code`` and an HTTP
status. The API renders them as ``{"detail": [{"code", "msg", "fields"}]}`` in one place
(``gpurent.api.errors``); the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ErrorItem:
    """One problem: a stable code, a message for people, and where it is."""

    code: str
    msg: str
    fields: list[str] = field(default_factory=list)


class GpurentError(Exception):
    """Base of every error a caller can cause; carries one or more items."""

    status_code = 400
    code = "bad_request"

    def __init__(self, msg: str, *, fields: list[str] | None = None) -> None:
        super().__init__(msg)
        self.items = [ErrorItem(self.code, msg, fields or [])]

    @property
    def message(self) -> str:
        return "; ".join(item.msg for item in self.items)


class NotFoundError(GpurentError):
    status_code = 404
    code = "not_found"


class ConflictError(GpurentError):
    status_code = 409
    code = "conflict"


class InvalidInputError(GpurentError):
    status_code = 422
    code = "invalid"


class InvalidTransitionError(ConflictError):
    code = "invalid_transition"


class FileFormatError(InvalidInputError):
    """A file (fleet file, list file...) is malformed; items say where, one per problem."""

    code = "invalid_file"

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        """``problems`` are ``(location, message)`` pairs, e.g. ``("fleet.yaml:12", ...)``."""
        super().__init__(f"{path}: {len(problems)} problem(s)")
        self.path = path
        self.items = [ErrorItem(self.code, f"{loc}: {msg}", [loc]) for loc, msg in problems]


class UnauthenticatedError(GpurentError):
    status_code = 401
    code = "unauthenticated"


class ForbiddenError(GpurentError):
    status_code = 403
    code = "forbidden"
