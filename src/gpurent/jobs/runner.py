"""The worker's job steps: start queued jobs, follow running ones, stop those whose lease
ended (SIGTERM, then SIGKILL after the grace period), record usage once, and keep Slurm
reservations in step with whole-node leases. Every backend call is made with no
database transaction open; every database change is its own short transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.fleet.models import Facility
from gpurent.jobs import service, slurm_accounts
from gpurent.jobs.backends.base import Backend, BackendError
from gpurent.jobs.backends.local import LocalBackend
from gpurent.jobs.backends.slurm import SlurmBackend, reservation_name
from gpurent.jobs.models import Job, SlurmReservation, UsageRecord
from gpurent.jobs.sandbox import users
from gpurent.jobs.sandbox.lifecycle import SandboxPolicy, release_sandboxes
from gpurent.jobs.states import ALLOWED, JobStatus
from gpurent.leases.models import Lease
from gpurent.leases.states import HOLDING, LeaseStatus
from gpurent.timeutil import as_utc, utcnow

log = logging.getLogger("gpurent.jobs")
WORKER = "worker"


@dataclass
class JobsReport:
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    signalled: list[int] = field(default_factory=list)
    waiting: dict[int, str] = field(default_factory=dict)


def run_jobs(
    session: Session,
    backends: dict[str, Backend],
    root: Path,
    now: datetime,
    grace: timedelta,
    sandbox: SandboxPolicy | None = None,
) -> JobsReport:
    report = JobsReport()
    sandbox = sandbox or SandboxPolicy()
    _stop_at_lease_end(session, now)
    _start_queued(session, backends, root, now, report, sandbox)
    _follow_running(session, backends, root, now, grace, report)
    local = backends.get("local")
    if isinstance(local, LocalBackend) and local.sandboxed:
        release_sandboxes(session, local, now, grace, sandbox.retention)
    _record_lease_usage(session, now)
    slurm = backends.get("slurm")
    if isinstance(slurm, SlurmBackend):
        sync_reservations(session, slurm)
    return report


def _stop_at_lease_end(session: Session, now: datetime) -> None:
    due = session.scalars(
        select(Job)
        .join(Lease, Lease.id == Job.lease_id)
        .where(
            Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
            Job.stop_requested_at.is_(None),
            (Lease.ends_at <= now) | (Lease.status != LeaseStatus.ACTIVE),
        )
    ).all()
    for job in due:
        service.request_stop(session, job, reason="lease_end", actor=WORKER)
    session.commit()


def _start_queued(
    session: Session,
    backends: dict[str, Backend],
    root: Path,
    now: datetime,
    report: JobsReport,
    sandbox: SandboxPolicy,
) -> None:
    queued = session.scalars(
        select(Job.id).where(Job.status == JobStatus.QUEUED, Job.stop_requested_at.is_(None))
    ).all()

    def start(job_id: int) -> None:
        _start_one(session, backends, root, now, report, sandbox, job_id)

    def fail(job_id: int, exc: Exception) -> None:  # one job never stalls the others
        _fail(session, job_id, f"could not start: {exc}")

    _each(session, queued, "start", start, fail)


def _each(
    session: Session,
    job_ids: Sequence[int],
    what: str,
    step: Callable[[int], None],
    on_error: Callable[[int, Exception], None] | None = None,
) -> None:
    """Run `step` for each job on its own: one that raises is logged (and handed to
    `on_error`, else retried next round) and the others go on."""
    session.commit()
    for job_id in job_ids:
        try:
            step(job_id)
        except Exception as exc:
            session.rollback()
            log.exception("job %s: could not %s", job_id, what)
            if on_error is not None:
                on_error(job_id, exc)


def _start_one(
    session: Session,
    backends: dict[str, Backend],
    root: Path,
    now: datetime,
    report: JobsReport,
    sandbox: SandboxPolicy,
    job_id: int,
) -> None:
    job = service.get_job(session, job_id)
    lease = service.lease_for_jobs(session, job.lease_id)
    if lease.status != LeaseStatus.ACTIVE or as_utc(lease.ends_at) <= now:
        session.commit()
        return  # its lease is over: the stop step ends it, nothing starts
    spec = service.spec_of(job, root)
    slurm = backends.get("slurm")
    namespace = slurm.namespace if isinstance(slurm, SlurmBackend) else "gpurent"
    spec = replace(spec, reservation=service.reservation_for(job, lease, namespace))
    spec = slurm_accounts.with_account(session, spec, lease)  # Slurm: the customer's user
    backend = backends.get(job.backend)
    if isinstance(backend, LocalBackend):
        unsafe = not backend.sandboxed and not sandbox.customer_jobs_allowed
        if unsafe and service.is_customer_lease(session, lease):
            session.commit()
            _fail(session, job_id, "a customer's job cannot run unsandboxed on this host")
            return
        if backend.sandboxed:
            session.commit()
            spec = replace(spec, run_as=users.assign(session, lease.id, sandbox.uids))
    session.commit()  # no transaction stays open across the backend call
    try:
        if backend is None:
            raise BackendError(f"no {job.backend} backend on this worker")
        ref = backend.submit(spec)
    except BackendError as exc:
        # The job waits for the backend; its lease and everything else stay as they are.
        session.execute(update(Job).where(Job.id == job.id).values(reason=f"waiting: {exc}"))
        session.commit()
        report.waiting[job.id] = str(exc)
        return
    job = service.get_job(session, job.id)
    job.backend_ref, job.started_at, job.reason = ref, now, None
    service.change_job_status(
        session,
        job,
        JobStatus.RUNNING,
        actor=WORKER,
        detail=f"{job.backend} {ref} on {job.node}",
    )
    session.commit()
    report.started.append(job.id)


def _fail(session: Session, job_id: int, reason: str) -> None:
    """Mark a job failed with its reason (one that cannot be handled stays as it was)."""
    try:
        job = service.get_job(session, job_id)
        if JobStatus.FAILED in ALLOWED[job.status]:
            job.reason, job.ended_at = reason[:2000], job.ended_at or utcnow()
            service.change_job_status(session, job, JobStatus.FAILED, actor=WORKER, detail=reason)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("job %s could not be marked failed", job_id)


def _follow_running(
    session: Session,
    backends: dict[str, Backend],
    root: Path,
    now: datetime,
    grace: timedelta,
    report: JobsReport,
) -> None:
    running = session.scalars(select(Job.id).where(Job.status == JobStatus.RUNNING)).all()

    def follow(job_id: int) -> None:
        _follow_one(session, backends, root, now, grace, report, job_id)

    _each(session, running, "follow", follow)


def _follow_one(
    session: Session,
    backends: dict[str, Backend],
    root: Path,
    now: datetime,
    grace: timedelta,
    report: JobsReport,
    job_id: int,
) -> None:
    job = service.get_job(session, job_id)
    spec, ref = service.spec_of(job, root), job.backend_ref or ""
    stop_at = as_utc(job.stop_requested_at) if job.stop_requested_at else None
    session.commit()
    backend = backends.get(job.backend)
    if backend is None:
        return
    try:
        seen = backend.observe(spec, ref)
        if not seen.finished and stop_at is not None:
            backend.signal(spec, ref, hard=now - stop_at >= grace)
            report.signalled.append(job.id)
    except BackendError as exc:
        log.warning("job %s: %s", job.id, exc)
        return
    if not seen.finished:
        return
    job = service.get_job(session, job.id)
    if job.stop_reason == "cancel":
        target = JobStatus.CANCELLED
    elif job.stop_reason == "lease_end":
        target = JobStatus.STOPPED
    elif seen.exit_code == 0:
        target = JobStatus.SUCCEEDED
    else:
        target = JobStatus.FAILED
    job.exit_code = seen.exit_code
    job.ended_at = seen.ended_at or now
    job.started_at = seen.started_at or job.started_at
    job.reason = {
        JobStatus.STOPPED: "its lease ended: SIGTERM, then SIGKILL after the grace period",
        JobStatus.CANCELLED: "cancelled",
    }.get(target) or str(seen.detail.get("error") or f"exit code {seen.exit_code}")
    service.change_job_status(session, job, target, actor=WORKER, detail=job.reason)
    session.commit()
    _record(
        session,
        UsageRecord(
            kind="job_used",
            subject_id=job.id,
            lease_id=job.lease_id,
            gpu_seconds=seen.gpu_seconds or 0,
            source=seen.source,
            detail={k: v for k, v in seen.detail.items() if isinstance(v, str | int | float)},
            period_start=job.started_at or now,
            period_end=job.ended_at,
        ),
    )
    report.finished.append(job.id)


def _record(session: Session, usage: UsageRecord) -> None:
    """Record once: a second worker (or a restarted one) finds the row there."""
    session.add(usage)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def _record_lease_usage(session: Session, now: datetime) -> None:
    ended = session.scalars(
        select(Lease)
        .outerjoin(
            UsageRecord,
            (UsageRecord.kind == "lease_allocated") & (UsageRecord.subject_id == Lease.id),
        )
        .where(
            Lease.status.in_([LeaseStatus.ENDED, LeaseStatus.PREEMPTED]), UsageRecord.id.is_(None)
        )
        .limit(500)
    ).all()
    for lease in ended:
        seconds = service.allocated_seconds(lease, now)
        _record(
            session,
            UsageRecord(
                kind="lease_allocated",
                subject_id=lease.id,
                lease_id=lease.id,
                gpu_seconds=seconds,
                source="schedule",
                detail={"gpus": lease.gpus},
                period_start=lease.starts_at,
                period_end=lease.ends_at,
            ),
        )


def sync_reservations(session: Session, slurm: SlurmBackend) -> None:
    """Whole-node leases on Slurm facilities hold a reservation for their window."""
    leases = session.scalars(
        select(Lease)
        .join(Facility, Facility.id == Lease.facility_id)
        .where(Facility.backend == "slurm", Lease.status.in_(list(HOLDING)))
    ).all()
    wanted: dict[int, tuple[list[str], datetime, datetime]] = {}
    for lease in leases:
        full = service.lease_for_jobs(session, lease.id)
        nodes = _whole_nodes(full)
        if nodes:
            wanted[lease.id] = (nodes, as_utc(lease.starts_at), as_utc(lease.ends_at))
    have = {r.lease_id: r for r in session.scalars(select(SlurmReservation)).all()}
    todo_set = [
        (lease_id, spec)
        for lease_id, spec in wanted.items()
        if lease_id not in have or as_utc(have[lease_id].ends_at) != spec[2]
    ]
    todo_drop = [lease_id for lease_id in have if lease_id not in wanted]
    session.commit()
    for lease_id, (nodes, start, end) in todo_set:
        try:
            slurm.reserve(lease_id, nodes, start, end)
        except BackendError as exc:
            log.warning("reservation for lease %s: %s", lease_id, exc)
            continue
        row = session.get(SlurmReservation, lease_id)
        if row is None:
            session.add(
                SlurmReservation(
                    lease_id=lease_id,
                    name=reservation_name(slurm.namespace, lease_id),
                    nodes=nodes,
                    ends_at=end,
                )
            )
        else:
            row.ends_at = end
        session.commit()
    for lease_id in todo_drop:
        try:
            slurm.release(lease_id)
        except BackendError as exc:
            log.warning("reservation for lease %s: %s", lease_id, exc)
            continue
        row = session.get(SlurmReservation, lease_id)
        if row is not None:
            session.delete(row)
        session.commit()


def _whole_nodes(lease: Lease) -> list[str]:
    counts: dict[str, tuple[int, int]] = {}
    for allocation in lease.allocations:
        if allocation.live:
            node = allocation.gpu.node
            held, total = counts.get(node.name, (0, len(node.gpus)))
            counts[node.name] = (held + 1, total)
    return sorted(name for name, (held, total) in counts.items() if held == total)
