"""Prometheus metrics, computed from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from gpurent import __version__
from gpurent.billing.metrics import BillingCollector
from gpurent.compliance import reviews as review_service
from gpurent.db.engine import session_scope
from gpurent.fleet import service as fleet_service
from gpurent.jobs import service as job_service
from gpurent.leases import service as lease_service


class FleetCollector(Collector):
    """GPUs and leases: read fresh on every scrape, so that replicas agree."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily("gpurent_build", "gpurent version", value={"version": __version__})
        gpus = GaugeMetricFamily(
            "gpurent_gpus",
            "GPUs by facility, model and state",
            labels=["facility", "model", "state"],
        )
        leases = GaugeMetricFamily(
            "gpurent_leases", "Leases by status and GPU model", labels=["status", "model"]
        )
        leased = GaugeMetricFamily(
            "gpurent_gpus_leased", "GPUs held by active leases now, by model", labels=["model"]
        )
        jobs = GaugeMetricFamily("gpurent_jobs", "Jobs by status", labels=["status"])
        used = CounterMetricFamily(
            "gpurent_gpu_seconds_used",
            "GPU-seconds used by finished jobs, as the backends accounted them",
            labels=["source"],
        )
        allocated = CounterMetricFamily(
            "gpurent_gpu_seconds_allocated", "GPU-seconds allocated to leases that ended"
        )
        overdue = GaugeMetricFamily(
            "gpurent_reviews_overdue", "Pending compliance reviews past their due time"
        )
        with session_scope(self._session_factory) as session:
            for status, count in job_service.job_counts(session):
                jobs.add_metric([status], count)
            for source, seconds in job_service.used_by_source(session):
                used.add_metric([source], seconds)
            allocated.add_metric([], job_service.allocated_total(session))
            overdue.add_metric([], review_service.overdue_count(session))
            for facility, model, state, count in fleet_service.gpu_counts(session):
                gpus.add_metric([facility, model, state], count)
            for status, model, count, gpu_count in lease_service.lease_counts(session):
                leases.add_metric([status, model], count)
                if status == "active":
                    leased.add_metric([model], gpu_count)
        yield gpus
        yield leases
        yield leased
        yield jobs
        yield used
        yield allocated
        yield overdue


def make_registry(session_factory: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(session_factory))
    registry.register(BillingCollector(session_factory))
    return registry
