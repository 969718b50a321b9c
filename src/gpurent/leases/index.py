"""An in-memory copy of GPU timelines that availability searches read.

Searches must be fast on fleets of thousands of GPUs with many leases, so they read
this index instead of the database. It refreshes incrementally before each search:
allocations changed since the last refresh (by ``updated_at``, with a margin that
covers transactions still committing), and the fleet when a GPU changed. The index only
guides: booking re-checks in the database, which has the last word.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.fleet.models import Facility, Gpu, Node
from gpurent.fleet.states import GpuState
from gpurent.leases.availability import NodeInfo, Timeline
from gpurent.leases.models import Allocation
from gpurent.timeutil import utcnow

# Longer than any booking transaction stays open (they make no slow calls).
COMMIT_MARGIN = timedelta(seconds=10)
FLEET_MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True)
class FleetNode:
    info: NodeInfo
    facility_name: str
    country: str
    model_id: int


class AvailabilityIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: list[FleetNode] = []
        self._fleet_version: tuple[object, ...] | None = None
        self._fleet_loaded_at: datetime | None = None
        self._allocations: dict[int, tuple[int, float, float, bool]] = {}
        self._by_gpu: dict[int, set[int]] = defaultdict(set)
        self._timelines: dict[int, Timeline] = {}
        self._dirty: set[int] = set()
        self._watermark: datetime | None = None

    def refresh(self, session: Session) -> None:
        with self._lock:
            self._refresh_fleet(session)
            self._refresh_allocations(session)

    def _refresh_fleet(self, session: Session) -> None:
        version = tuple(
            session.execute(
                select(func.count(Gpu.id), func.max(Gpu.id), func.max(Gpu.state_changed_at))
            ).one()
        ) + tuple(session.execute(select(func.count(Node.id), func.max(Node.id))).one())
        now = utcnow()
        fresh = self._fleet_loaded_at and now - self._fleet_loaded_at < FLEET_MAX_AGE
        if version == self._fleet_version and fresh:
            return
        rows = session.execute(
            select(
                Gpu.id,
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
        grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
        sizes: dict[tuple[int, int], int] = defaultdict(int)
        meta: dict[int, tuple[str, str | None, int, str, str]] = {}
        for gpu_id, state, model_id, node_id, name, domain, fac_id, fac_name, country in rows:
            sizes[node_id, model_id] += 1
            if state == GpuState.AVAILABLE:
                grouped[node_id, model_id].append(gpu_id)
            meta[node_id] = (name, domain, fac_id, fac_name, country)
        self._nodes = [
            FleetNode(
                info=NodeInfo(
                    node_id,
                    meta[node_id][0],
                    meta[node_id][2],
                    meta[node_id][1],
                    tuple(grouped.get((node_id, model_id), ())),
                    size,
                ),
                facility_name=meta[node_id][3],
                country=meta[node_id][4],
                model_id=model_id,
            )
            for (node_id, model_id), size in sizes.items()
        ]
        self._fleet_version = version
        self._fleet_loaded_at = now

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
            statement = statement.where(
                Allocation.live, Allocation.ends_at > utcnow() - timedelta(days=1)
            )
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
    ) -> tuple[list[FleetNode], dict[int, Timeline]]:
        """The nodes with GPUs of a model (optionally in one facility or country)."""
        with self._lock:
            nodes = [
                n
                for n in self._nodes
                if n.model_id == model_id
                and (facility is None or n.facility_name == facility)
                and (country is None or n.country == country.upper())
            ]
            timelines = {gpu: self._timeline(gpu) for n in nodes for gpu in n.info.gpu_ids}
        return nodes, timelines
