"""Client calls: availability, leases, jobs and usage."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from gpurent.client.base import Calls, Page, pages
from gpurent.jobs.schemas import JobIn, JobOut, LogChunk
from gpurent.leases.schemas import (
    EndChange,
    LeaseEventOut,
    LeaseOut,
    LeaseRequest,
    NodeCalendar,
    WindowOut,
)
from gpurent.leases.states import LeaseStatus
from gpurent.offers.terms import Term


def new_idempotency_key() -> str:
    return f"gpurent-{uuid.uuid4().hex}"


class LeaseCalls(Calls):
    def availability(
        self,
        gpu_model: str,
        gpus: int,
        hours: Decimal | int | float,
        *,
        after: datetime | None = None,
        facility: str | None = None,
        country: str | None = None,
        term: Term = Term.ON_DEMAND,
        limit: int = 3,
    ) -> list[WindowOut]:
        """The earliest windows for N GPUs of a model for H hours, placed and priced."""
        params = {
            "gpu_model": gpu_model, "gpus": gpus, "hours": hours, "after": after,
            "facility": facility, "country": country, "term": term, "limit": limit,
        }  # fmt: skip
        return self._many(WindowOut, "/v1/availability", params)

    def calendar(
        self,
        start: datetime,
        end: datetime,
        *,
        facility: str | None = None,
        node: str | None = None,
    ) -> list[NodeCalendar]:
        """Busy intervals per node and GPU over a time range (staff)."""
        params = {"start": start, "end": end, "facility": facility, "node": node}
        return self._many(NodeCalendar, "/v1/calendar", params)

    def create_lease(
        self,
        request: LeaseRequest,
        *,
        idempotency_key: str | None = None,
        organization: str | None = None,
    ) -> LeaseOut:
        """Book, through the export-control gate. Every booking carries an
        ``Idempotency-Key`` (a new one unless given), so that it is retried safely: a
        retry returns the lease the first attempt booked, never a second one."""
        key = idempotency_key or new_idempotency_key()
        return self._post(
            LeaseOut,
            "/v1/leases",
            request,
            params={"organization": organization},
            headers={"Idempotency-Key": key},
            idempotent=True,
        )

    def leases(
        self, *, status: LeaseStatus | None = None, limit: int = 100, offset: int = 0
    ) -> Page[LeaseOut]:
        """One page of leases, newest first (a renter sees its own organization's)."""
        return self._page(LeaseOut, "/v1/leases", {"status": status, "limit": limit}, offset)

    def iter_leases(
        self, *, status: LeaseStatus | None = None, page_size: int = 100
    ) -> Iterator[LeaseOut]:
        """Every lease, newest first, a page at a time."""
        return pages(
            lambda limit, offset: self.leases(status=status, limit=limit, offset=offset),
            page_size,
        )

    def lease(self, lease_id: int) -> LeaseOut:
        return self._one(LeaseOut, f"/v1/leases/{lease_id}")

    def lease_events(self, lease_id: int) -> list[LeaseEventOut]:
        return self._many(LeaseEventOut, f"/v1/leases/{lease_id}/events")

    def extend_lease(self, lease_id: int, change: EndChange) -> LeaseOut:
        """Move the end later (through the gate): to ``end``, or ``hours`` more."""
        return self._post(LeaseOut, f"/v1/leases/{lease_id}/extend", change)

    def shorten_lease(self, lease_id: int, change: EndChange) -> LeaseOut:
        """Move the end earlier: to ``end``, or ``hours`` less."""
        return self._post(LeaseOut, f"/v1/leases/{lease_id}/shorten", change)

    def release_lease(self, lease_id: int) -> LeaseOut:
        """End an active lease now (one not started is cancelled)."""
        return self._post(LeaseOut, f"/v1/leases/{lease_id}/release")

    def cancel_lease(self, lease_id: int) -> LeaseOut:
        """Cancel a lease that has not started."""
        return self._post(LeaseOut, f"/v1/leases/{lease_id}/cancel")


class JobCalls(Calls):
    def submit_job(self, lease_id: int, job: JobIn) -> JobOut:
        """Run a command on the lease's GPUs; the server's worker starts it."""
        return self._post(JobOut, f"/v1/leases/{lease_id}/jobs", job)

    def jobs(self, lease_id: int) -> list[JobOut]:
        return self._many(JobOut, f"/v1/leases/{lease_id}/jobs")

    def job(self, job_id: int) -> JobOut:
        return self._one(JobOut, f"/v1/jobs/{job_id}")

    def job_logs(self, job_id: int, offset: int = 0) -> LogChunk:
        """The job's output from ``offset``; ask again from the returned offset."""
        return self._one(LogChunk, f"/v1/jobs/{job_id}/logs", {"offset": offset})

    def follow_logs(
        self,
        job_id: int,
        *,
        offset: int = 0,
        interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[str]:
        """The job's output as it is written, until the job has ended and all is read."""
        while True:
            chunk = self.job_logs(job_id, offset)
            offset = chunk.offset
            if chunk.text:
                yield chunk.text
            elif chunk.finished:
                return
            else:
                sleep(interval)

    def cancel_job(self, job_id: int) -> JobOut:
        """Ask the job to stop (SIGTERM, then SIGKILL after the grace period)."""
        return self._post(JobOut, f"/v1/jobs/{job_id}/cancel")

    def usage(self, lease_id: int | None = None) -> list[dict[str, Any]]:
        """GPU-seconds per lease, allocated and used by its jobs (a renter: its own)."""
        rows: list[dict[str, Any]] = self._json("GET", "/v1/usage")
        return [r for r in rows if lease_id is None or r["lease_id"] == lease_id]
