"""In-memory copies that make booking and searching fast: the fleet's layout, and GPU
timelines.

- The layout (which GPUs of which model can be placed, on which nodes, and their prices)
  is reloaded when the fleet revision moves; every change to GPUs, nodes or rate cards
  raises it in its transaction.
- Timelines refresh incrementally before each search: allocations changed since the last
  refresh (by ``updated_at``, with a margin that covers transactions still committing).
The copies only guide: a booking re-reads what holds the GPUs in its window, inside its
transaction, and the database has the last word.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.catalog.models import GpuModel
from gpurent.fleet import service as fleet_service
from gpurent.fleet.models import Facility, Gpu, Node
from gpurent.fleet.states import GpuState
from gpurent.leases.availability import NodeInfo, Timeline
from gpurent.leases.models import Allocation
from gpurent.offers import service as offers_service
from gpurent.offers.models import RateCard
from gpurent.offers.pricing import Rates
from gpurent.timeutil import utcnow

# Longer than any booking transaction stays open (they make no slow calls).
COMMIT_MARGIN = timedelta(seconds=10)
PAST_KEPT = timedelta(days=1)  # searches start now: older allocations are dropped
EVICT_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class FleetNode:
    info: NodeInfo
    facility_name: str
    country: str
    model_id: int


@dataclass(frozen=True)
class FleetLayout:
    revision: int
    nodes: tuple[FleetNode, ...]
    addresses: dict[int, str]  # gpu id -> node/index
    facilities: dict[int, tuple[str, str]]  # facility id -> (name, country)
    rates: dict[tuple[int, int | None], Rates]  # (model id, facility id or None) -> prices
    models: dict[str, tuple[int, str]]  # lower-case name -> (id, name)

    def rates_for(self, model_id: int, facility_id: int) -> Rates | None:
        """The facility's own prices for the model, else the model's prices everywhere."""
        return self.rates.get((model_id, facility_id)) or self.rates.get((model_id, None))

    def select(
        self,
        model_id: int,
        *,
        facility: str | None = None,
        facility_id: int | None = None,
        country: str | None = None,
    ) -> list[FleetNode]:
        return [
            n
            for n in self.nodes
            if n.model_id == model_id
            and (facility is None or n.facility_name == facility)
            and (facility_id is None or n.info.facility_id == facility_id)
            and (country is None or n.country == country.upper())
        ]


def load_layout(session: Session, revision: int) -> FleetLayout:
    rows = session.execute(
        select(
            Gpu.id,
            Gpu.index,
            Gpu.state,
            Gpu.model_id,
            Node.id,
            Node.name,
            Node.interconnect_domain,
            Facility.id,
            Facility.name,
            Facility.country,
        )
        .join(Gpu.node)
        .join(Node.facility)
        .where(Gpu.state != GpuState.RETIRED)
        .order_by(Node.id, Gpu.index)
    ).all()
    usable: dict[tuple[int, int], list[int]] = defaultdict(list)
    sizes: dict[tuple[int, int], int] = defaultdict(int)
    meta: dict[int, tuple[str, str | None, int, str, str]] = {}
    addresses = {}
    for gpu_id, index, state, model_id, node_id, name, domain, fac_id, fac_name, country in rows:
        sizes[node_id, model_id] += 1
        if state == GpuState.AVAILABLE:
            usable[node_id, model_id].append(gpu_id)
        meta[node_id] = (name, domain, fac_id, fac_name, country)
        addresses[gpu_id] = f"{name}/{index}"
    nodes = tuple(
        FleetNode(
            info=NodeInfo(
                node_id=node_id,
                name=meta[node_id][0],
                facility_id=meta[node_id][2],
                domain=meta[node_id][1],
                gpu_ids=tuple(usable.get((node_id, model_id), ())),
                size=size,
            ),
            facility_name=meta[node_id][3],
            country=meta[node_id][4],
            model_id=model_id,
        )
        for (node_id, model_id), size in sizes.items()
    )
    rates = {
        (card.gpu_model_id, card.facility_id): offers_service.rates_of(card)
        for card in session.scalars(select(RateCard))
    }
    facilities = {fid: (name, country) for _, _, fid, name, country in meta.values()}
    models = {
        name.lower(): (model_id, name)
        for model_id, name in session.execute(select(GpuModel.id, GpuModel.name))
    }
    return FleetLayout(revision, nodes, addresses, facilities, rates, models)


class FleetCache:
    """The fleet layout of this process, reloaded when the fleet revision moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._layout: FleetLayout | None = None

    def addresses(self) -> dict[int, str]:
        """GPU addresses as last loaded (may lag behind; callers fall back)."""
        return self._layout.addresses if self._layout else {}

    def layout(self, session: Session) -> FleetLayout:
        return self.at_revision(session, fleet_service.fleet_revision(session))

    def latest(self, session: Session) -> FleetLayout:
        """The cached layout as it is, loading it only the first time."""
        with self._lock:
            layout = self._layout
        return layout if layout is not None else self.layout(session)

    def at_revision(self, session: Session, revision: int) -> FleetLayout:
        """The layout for a revision just read in the caller's transaction."""
        with self._lock:
            if self._layout is None or self._layout.revision != revision:
                self._layout = load_layout(session, revision)
            return self._layout


class AvailabilityIndex:
    """GPU timelines for availability searches, over the process's fleet cache."""

    def __init__(self, fleet: FleetCache | None = None) -> None:
        self.fleet = fleet or FleetCache()
        self._lock = threading.Lock()
        self._layout: FleetLayout | None = None
        self._allocations: dict[int, tuple[int, float, float, bool]] = {}
        self._by_gpu: dict[int, set[int]] = defaultdict(set)
        self._timelines: dict[int, Timeline] = {}
        self._dirty: set[int] = set()
        self._watermark: datetime | None = None
        self._evicted_at = utcnow()

    def refresh(self, session: Session) -> None:
        layout = self.fleet.layout(session)
        with self._lock:
            self._layout = layout
            self._refresh_allocations(session)
            if utcnow() - self._evicted_at > EVICT_EVERY:
                self._evict_past()

    def _evict_past(self) -> None:
        """Forget allocations that ended long ago: searches never look back."""
        now = utcnow()
        cutoff = (now - PAST_KEPT).timestamp()
        for alloc_id in [a for a, (_, _, end, _) in self._allocations.items() if end < cutoff]:
            self._forget(alloc_id)
        self._evicted_at = now

    def _refresh_allocations(self, session: Session) -> None:
        statement = select(
            Allocation.id,
            Allocation.gpu_id,
            Allocation.starts_at,
            Allocation.ends_at,
            Allocation.live,
            Allocation.preemptible,
            Allocation.updated_at,
        )
        if self._watermark is None:
            statement = statement.where(Allocation.live, Allocation.ends_at > utcnow() - PAST_KEPT)
        else:
            statement = statement.where(Allocation.updated_at >= self._watermark - COMMIT_MARGIN)
        for alloc_id, gpu_id, start, end, live, preemptible, updated in session.execute(statement):
            self._forget(alloc_id)
            if live and end > start:
                self._allocations[alloc_id] = (
                    gpu_id,
                    start.timestamp(),
                    end.timestamp(),
                    preemptible,
                )
                self._by_gpu[gpu_id].add(alloc_id)
            self._dirty.add(gpu_id)
            if self._watermark is None or updated > self._watermark:
                self._watermark = updated
        if self._watermark is None:
            self._watermark = utcnow()

    def _forget(self, alloc_id: int) -> None:
        old = self._allocations.pop(alloc_id, None)
        if old is not None:
            self._by_gpu[old[0]].discard(alloc_id)
            self._dirty.add(old[0])

    def _timeline(self, gpu_id: int) -> Timeline:
        if gpu_id in self._dirty or gpu_id not in self._timelines:
            self._timelines[gpu_id] = Timeline.of(
                self._allocations[a][1:] for a in self._by_gpu.get(gpu_id, ())
            )
            self._dirty.discard(gpu_id)
        return self._timelines[gpu_id]

    def view(
        self, model_id: int, *, facility: str | None = None, country: str | None = None
    ) -> tuple[list[FleetNode], dict[int, Timeline], dict[int, str]]:
        """The nodes with GPUs of a model, their timelines and GPU addresses."""
        with self._lock:
            if self._layout is None:
                raise RuntimeError("refresh the index before reading it")
            nodes = self._layout.select(model_id, facility=facility, country=country)
            timelines = {gpu: self._timeline(gpu) for n in nodes for gpu in n.info.gpu_ids}
            return nodes, timelines, self._layout.addresses
