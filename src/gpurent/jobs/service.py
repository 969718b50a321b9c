"""Submit, read, cancel jobs; their logs; usage. No backend call happens here inside an
open transaction: submitting only records the job (queued); the worker starts it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError
from gpurent.fleet.models import Gpu
from gpurent.jobs import slurm_accounts, validation
from gpurent.jobs.backends.base import JobSpec
from gpurent.jobs.backends.slurm import reservation_name
from gpurent.jobs.models import Job, JobEvent, UsageRecord
from gpurent.jobs.states import ALLOWED, JobStatus
from gpurent.leases.models import Allocation, Lease
from gpurent.leases.states import LeaseStatus
from gpurent.timeutil import as_utc, utcnow


def change_job_status(
    session: Session, job: Job, target: JobStatus, *, actor: str, detail: str = ""
) -> None:
    """The one way a job's status changes: checked against the table, with an event."""
    if target not in ALLOWED[job.status]:
        raise ConflictError(f"job {job.id} is {job.status} and cannot become {target}")
    session.add(
        JobEvent(
            job_id=job.id,
            from_status=job.status.value,
            to_status=target.value,
            detail=detail,
            actor=actor,
        )
    )
    audit.record(
        session,
        actor,
        "job.status",
        f"job:{job.id}",
        {"from": job.status.value, "to": target.value, "detail": detail},
    )
    job.status = target
    session.flush()


def _placement(lease: Lease, gpus: int) -> tuple[str, list[int], bool]:
    """The node and GPU indices a job of `gpus` GPUs gets in the lease, and whether the
    lease holds that node whole."""
    by_node: dict[str, list[Gpu]] = defaultdict(list)
    for allocation in lease.allocations:
        if allocation.live:
            by_node[allocation.gpu.node.name].append(allocation.gpu)
    for node, held in sorted(by_node.items(), key=lambda item: -len(item[1])):
        if len(held) >= gpus:
            indices = sorted(g.index for g in held)[:gpus]
            whole = len(held) == len(held[0].node.gpus)
            return node, indices, whole
    most = max((len(v) for v in by_node.values()), default=0)
    raise InvalidInputError(
        f"a job runs on one node; lease {lease.id} holds at most {most} GPUs on one node",
        fields=["gpus"],
    )


def submit_job(
    session: Session,
    lease: Lease,
    *,
    command: list[str],
    env: dict[str, str],
    gpus: int,
    workdir: str | None,
    image: str | None,
    actor: str,
    customer_jobs_allowed: bool = True,
) -> Job:
    """Queue a job. `customer_jobs_allowed`: whether the local backend may run customers'
    jobs (see backends.local.may_run_customer_jobs)."""
    if lease.status != LeaseStatus.ACTIVE:
        raise ConflictError(f"lease {lease.id} is {lease.status}: jobs run in active leases")
    if gpus > lease.gpus:
        raise InvalidInputError(
            f"the job asks for {gpus} GPUs; lease {lease.id} holds {lease.gpus}", fields=["gpus"]
        )
    validation.check_command(command)
    validation.check_env(env)
    validation.check_image(image)
    workdir = validation.check_workdir(workdir)
    backend = lease.facility.backend
    slurm_accounts.check_can_run(session, lease)  # a customer needs its own Slurm user
    if image and backend == "local":
        raise InvalidInputError("the local backend runs no container images", fields=["image"])
    if backend == "local" and not customer_jobs_allowed and is_customer_lease(session, lease):
        raise ConflictError(
            "this server is not root, so its local backend cannot run a customer's jobs in a "
            "sandbox of their own; it runs only the operator's jobs "
            "(GPURENT_UNSAFE_LOCAL_CUSTOMER_JOBS lifts this, unsafe for untrusted renters)"
        )
    node, indices, _whole = _placement(lease, gpus)
    job = Job(
        lease_id=lease.id,
        command=command,
        env=env,
        workdir=workdir,
        image=image,
        gpus=gpus,
        node=node,
        gpu_indices=indices,
        backend=backend,
        status=JobStatus.QUEUED,
        submitted_by=actor,
    )
    session.add(job)
    session.flush()
    session.add(
        JobEvent(job_id=job.id, to_status="queued", detail=f"on {node} GPUs {indices}", actor=actor)
    )
    audit.record(
        session,
        actor,
        "job.submit",
        f"job:{job.id}",
        {"lease_id": lease.id, "gpus": gpus, "node": node, "command": command},
    )
    session.commit()
    return job


def is_customer_lease(session: Session, lease: Lease) -> bool:
    if lease.organization_id is None:
        return False
    organization = session.get(Organization, lease.organization_id)
    return organization is not None and organization.kind != "operator"


def lease_for_jobs(session: Session, lease_id: int) -> Lease:
    lease = (
        session.scalars(
            select(Lease)
            .where(Lease.id == lease_id)
            .options(
                joinedload(Lease.facility),
                joinedload(Lease.allocations).joinedload(Allocation.gpu).joinedload(Gpu.node),
            )
        )
        .unique()
        .one_or_none()
    )
    if lease is None:
        raise NotFoundError(f"no lease {lease_id}")
    return lease


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job


def jobs_of_lease(session: Session, lease_id: int) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.lease_id == lease_id).order_by(Job.id)))


def request_stop(session: Session, job: Job, *, reason: str, actor: str) -> Job:
    """Cancel a job: queued ones end at once; running ones get SIGTERM from the worker,
    then SIGKILL after the grace period."""
    if job.status in (
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.STOPPED,
    ):
        raise ConflictError(f"job {job.id} has already ended ({job.status})")
    if job.stop_requested_at is None:
        job.stop_requested_at, job.stop_reason = utcnow(), reason
        audit.record(session, actor, "job.stop", f"job:{job.id}", {"reason": reason})
    if job.status == JobStatus.QUEUED:
        target = JobStatus.CANCELLED if reason == "cancel" else JobStatus.STOPPED
        change_job_status(session, job, target, actor=actor, detail=f"{reason} before it started")
        job.ended_at = utcnow()
    session.commit()
    return job


def spec_of(job: Job, root: Path) -> JobSpec:
    return JobSpec(
        job_id=job.id,
        lease_id=job.lease_id,
        command=list(job.command),
        env=dict(job.env),
        workdir=job.workdir,
        node=job.node,
        gpu_indices=list(job.gpu_indices),
        log_path=root / str(job.id) / "output.log",
        reservation=None,
        image=job.image,
    )


def reservation_for(job: Job, lease: Lease, namespace: str) -> str | None:
    """Jobs of a whole-node lease on Slurm run in the lease's reservation."""
    if job.backend != "slurm":
        return None
    _, _, whole = _placement(lease, job.gpus)
    return (
        reservation_name(namespace, lease.id)
        if whole and lease.gpus % len(job.gpu_indices or [1]) == 0
        else None
    )


def usage(session: Session, *, lease_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Per lease: GPU-seconds allocated so far, and used by its jobs (recorded and running)."""
    statement = select(Lease).options(joinedload(Lease.gpu_model)).order_by(Lease.id)
    if lease_ids is not None:
        statement = statement.where(Lease.id.in_(lease_ids))
    now = utcnow()
    rows = []
    for lease in session.scalars(statement):
        used = session.scalar(
            select(func.coalesce(func.sum(UsageRecord.gpu_seconds), 0)).where(
                UsageRecord.lease_id == lease.id, UsageRecord.kind == "job_used"
            )
        )
        rows.append(
            {
                "lease_id": lease.id,
                "organization_id": lease.organization_id,
                "gpu_model": lease.gpu_model.name,
                "gpus": lease.gpus,
                "status": lease.status.value,
                "allocated_gpu_seconds": allocated_seconds(lease, now),
                "used_gpu_seconds": int(used or 0),
                "jobs": [
                    {
                        "job_id": j.id,
                        "status": j.status.value,
                        "gpu_seconds": job_seconds(session, j, now),
                    }
                    for j in jobs_of_lease(session, lease.id)
                ],
            }
        )
    return rows


def allocated_seconds(lease: Lease, now: datetime) -> int:
    """GPUs x the part of the lease's window that has passed (while it held its GPUs)."""
    if lease.status in (LeaseStatus.CANCELLED, LeaseStatus.REJECTED, LeaseStatus.PENDING_REVIEW):
        return 0
    start = as_utc(lease.starts_at)
    end = min(as_utc(lease.ends_at), now)
    if lease.status == LeaseStatus.SCHEDULED or end <= start:
        return 0
    return int((end - start).total_seconds()) * lease.gpus


def job_seconds(session: Session, job: Job, now: datetime) -> int:
    recorded = session.scalar(
        select(UsageRecord.gpu_seconds).where(
            UsageRecord.kind == "job_used", UsageRecord.subject_id == job.id
        )
    )
    if recorded is not None:
        return int(recorded)
    if job.status == JobStatus.RUNNING and job.started_at is not None:
        return int((now - as_utc(job.started_at)).total_seconds()) * job.gpus
    return 0


def job_counts(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return [(str(status), int(count)) for status, count in rows]


def used_by_source(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(UsageRecord.source, func.sum(UsageRecord.gpu_seconds))
        .where(UsageRecord.kind == "job_used")
        .group_by(UsageRecord.source)
    )
    return [(str(source), int(total or 0)) for source, total in rows]


def allocated_total(session: Session) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(UsageRecord.gpu_seconds), 0)).where(
            UsageRecord.kind == "lease_allocated"
        )
    )
    return int(total or 0)
