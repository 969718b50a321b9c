"""Jobs and usage API."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import IdPath, Offset
from gpurent.errors import NotFoundError
from gpurent.jobs import gpus, service
from gpurent.jobs.backends import backends_for
from gpurent.jobs.backends.local import may_run_customer_jobs
from gpurent.jobs.models import Job
from gpurent.jobs.schemas import JobIn, JobOut, LogChunk
from gpurent.jobs.states import FINAL
from gpurent.leases.models import Lease
from gpurent.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["jobs"])


def _lease(session: SessionDep, lease_id: int, who: Principal) -> Lease:
    lease = service.lease_for_jobs(session, lease_id)
    if who.own_organization_only and lease.organization_id != who.organization_id:
        raise NotFoundError(f"no lease {lease_id}")
    return lease


def _job(session: SessionDep, job_id: int, who: Principal) -> Job:
    job = service.get_job(session, job_id)
    _lease(session, job.lease_id, who)
    return job


def _out(session: SessionDep, job: Job) -> JobOut:
    samples = gpus.sample(list(job.gpu_indices or [])) if job.backend == "local" else None
    return JobOut.of(job, service.job_seconds(session, job, utcnow()), samples)


@router.post("/leases/{lease_id}/jobs", status_code=status.HTTP_201_CREATED)
def submit(
    lease_id: IdPath,
    body: JobIn,
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.LEASES_CHANGE),
) -> JobOut:
    """Run a command on the lease's GPUs (at most the lease's); the worker starts it."""
    lease = _lease(session, lease_id, who)
    job = service.submit_job(
        session,
        lease,
        command=body.command,
        env=body.env,
        gpus=body.gpus,
        workdir=body.workdir,
        image=body.image,
        actor=who.actor,
        customer_jobs_allowed=may_run_customer_jobs(
            request.app.state.settings.unsafe_local_customer_jobs
        ),
    )
    return _out(session, job)


@router.get("/leases/{lease_id}/jobs")
def list_jobs(
    lease_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> list[JobOut]:
    _lease(session, lease_id, who)
    return [_out(session, j) for j in service.jobs_of_lease(session, lease_id)]


@router.get("/jobs/{job_id}")
def get_job(
    job_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> JobOut:
    return _out(session, _job(session, job_id, who))


@router.get("/jobs/{job_id}/logs")
def logs(
    job_id: IdPath,
    request: Request,
    session: SessionDep,
    offset: Offset = 0,
    who: Principal = principal_with(Permission.LEASES_READ),
) -> LogChunk:
    """The job's output from `offset`; follow by asking again with the returned offset."""
    job = _job(session, job_id, who)
    settings = request.app.state.settings
    root = settings.job_records_dir()
    text, offset = backends_for(settings)[job.backend].read_log(service.spec_of(job, root), offset)
    return LogChunk(text=text, offset=offset, finished=job.status in FINAL)


@router.post("/jobs/{job_id}/cancel")
def cancel(
    job_id: IdPath, session: SessionDep, who: Principal = principal_with(Permission.LEASES_CHANGE)
) -> JobOut:
    job = _job(session, job_id, who)
    return _out(session, service.request_stop(session, job, reason="cancel", actor=who.actor))


@router.get("/usage")
def usage(
    session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> list[dict[str, object]]:
    """GPU-seconds per lease: allocated so far, and used by its jobs."""
    rows = service.usage(session)
    if who.own_organization_only:
        rows = [r for r in rows if r["organization_id"] == who.organization_id]
    return rows
