"""What every group of client calls shares: the transport, parsing into the server's
schemas, and pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from gpurent.client.errors import UnexpectedAnswerError
from gpurent.client.transport import Transport

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items, and the total the server counted."""

    items: list[T]
    total: int
    offset: int


def body_of(model: BaseModel) -> dict[str, Any]:
    """A request schema as JSON, leaving out what the caller did not set."""
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


def pages(fetch: Callable[[int, int], Page[T]], page_size: int) -> Iterator[T]:
    """Every item of a listing, fetching ``page_size`` at a time until the total."""
    offset = 0
    while True:
        page = fetch(page_size, offset)
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


M = TypeVar("M", bound=BaseModel)


class Calls:
    """The base of each group of calls: typed requests over one transport."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        payload = body_of(body) if isinstance(body, BaseModel) else body
        response = self._transport.request(
            method, path, params=params, json=payload, headers=headers, idempotent=idempotent
        )
        return response.json()

    def _one(self, model: type[M], path: str, params: Mapping[str, Any] | None = None) -> M:
        one: M = _valid(model, self._json("GET", path, params=params))
        return one

    def _many(self, model: type[M], path: str, params: Mapping[str, Any] | None = None) -> list[M]:
        many: list[M] = _valid(list[model], self._json("GET", path, params=params))  # type: ignore[valid-type]
        return many

    def _page(self, model: type[M], path: str, params: Mapping[str, Any], offset: int) -> Page[M]:
        response = self._transport.request("GET", path, params={**params, "offset": offset})
        items: list[M] = _valid(list[model], response.json())  # type: ignore[valid-type]
        total = int(response.headers.get("X-Total-Count", len(items)))
        return Page(items=items, total=total, offset=offset)

    def _post(
        self,
        model: type[M],
        path: str,
        body: Any = None,
        *,
        method: str = "POST",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = False,
    ) -> M:
        data = self._json(method, path, body, params=params, headers=headers, idempotent=idempotent)
        one: M = _valid(model, data)
        return one


def _valid(kind: Any, data: Any) -> Any:
    try:
        return TypeAdapter(kind).validate_python(data)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "answer"
        raise UnexpectedAnswerError(
            f"the server's answer does not fit {getattr(kind, '__name__', kind)}: "
            f"{where}: {problem['msg']}"
        ) from exc
