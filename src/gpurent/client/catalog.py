"""Client calls: the GPU catalog, the fleet, offers and quotes."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from gpurent.catalog.schemas import GpuModelOut
from gpurent.client.base import Calls, Page, pages
from gpurent.errors import NotFoundError
from gpurent.fleet.schemas import FacilityOut, GpuEventOut, GpuOut, GpuStateChange, NodeOut
from gpurent.fleet.states import GpuState
from gpurent.leases.schemas import LimitsOut
from gpurent.offers.schemas import OfferOut, QuoteOut, QuoteRequest


class CatalogCalls(Calls):
    def gpu_models(self) -> list[GpuModelOut]:
        """Every GPU model with its TPP, density and ECCN 3A090 class."""
        return self._many(GpuModelOut, "/v1/gpu-models")

    def gpu_model(self, name: str) -> GpuModelOut:
        """One model, with the arithmetic behind its class."""
        return self._one(GpuModelOut, f"/v1/gpu-models/{quote(name, safe='')}")

    def offers(self) -> list[OfferOut]:
        """Prices per GPU-hour by model (and facility where it differs)."""
        return self._many(OfferOut, "/v1/offers")

    def quote(self, request: QuoteRequest) -> QuoteOut:
        """The price of a request, with its breakdown; books nothing."""
        return self._post(QuoteOut, "/v1/quotes", request, idempotent=True)

    def limits(self) -> LimitsOut:
        """The limits the server puts on lease windows and request bodies."""
        return self._one(LimitsOut, "/v1/limits")


class FleetCalls(Calls):
    def facilities(self) -> list[FacilityOut]:
        return self._many(FacilityOut, "/v1/facilities")

    def facility(self, name: str) -> FacilityOut:
        return self._one(FacilityOut, f"/v1/facilities/{quote(name, safe='')}")

    def nodes(self, facility: str | None = None) -> list[NodeOut]:
        """Nodes with their GPUs (of one facility, if given)."""
        return self._many(NodeOut, "/v1/nodes", {"facility": facility})

    def node(self, name: str) -> NodeOut:
        return self._one(NodeOut, f"/v1/nodes/{quote(name, safe='')}")

    def gpus(
        self,
        *,
        facility: str | None = None,
        node: str | None = None,
        model: str | None = None,
        state: GpuState | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> Page[GpuOut]:
        """One page of GPUs in facility, node and index order."""
        where = {"facility": facility, "node": node, "model": model, "state": state}
        return self._page(GpuOut, "/v1/gpus", where | {"limit": limit}, offset)

    def iter_gpus(
        self,
        *,
        facility: str | None = None,
        node: str | None = None,
        model: str | None = None,
        state: GpuState | None = None,
        page_size: int = 1000,
    ) -> Iterator[GpuOut]:
        """Every GPU that matches, a page at a time."""
        return pages(
            lambda limit, offset: self.gpus(
                facility=facility, node=node, model=model, state=state, limit=limit, offset=offset
            ),
            page_size,
        )

    def gpu(self, reference: str | int) -> GpuOut:
        """A GPU by id, ``node/index`` or serial."""
        node, slash, index = str(reference).rpartition("/")
        if not slash:
            return self._one(GpuOut, f"/v1/gpus/{quote(str(reference), safe='')}")
        # A path segment cannot hold the slash: look the GPU up among its node's.
        for gpu in self.iter_gpus(node=node):
            if str(gpu.index) == index:
                return gpu
        raise NotFoundError(f"no GPU {reference!r}")

    def _gpu_path(self, reference: str | int) -> str:
        if "/" in str(reference):
            return f"/v1/gpus/{self.gpu(reference).id}"
        return f"/v1/gpus/{quote(str(reference), safe='')}"

    def gpu_events(self, reference: str | int) -> list[GpuEventOut]:
        return self._many(GpuEventOut, f"{self._gpu_path(reference)}/events")

    def set_gpu_state(
        self, reference: str | int, state: GpuState, reason: str, force: bool = False
    ) -> GpuOut:
        """Change a GPU's state (checked against the allowed transitions); a repeat of
        the same change is refused by the transition table, never applied twice. Taking a
        GPU that a running lease holds out of service needs `force`."""
        change = GpuStateChange(state=state, reason=reason, force=force)
        return self._post(GpuOut, f"{self._gpu_path(reference)}/state", change, method="PUT")
