"""``gpurent job`` and ``gpurent usage``: run work on a lease, read its logs, see the GPU
time used."""

from __future__ import annotations

import json
import sys
import time

import typer
from rich.table import Table

from gpurent.cli.common import JSON_OPTION, cli_actor, console, open_session
from gpurent.config import load_settings
from gpurent.jobs import service
from gpurent.jobs.backends import backends_for
from gpurent.jobs.models import Job
from gpurent.jobs.states import FINAL
from gpurent.timeutil import utcnow

app = typer.Typer(help="Jobs on leased GPUs.", no_args_is_help=True)


def _dict(job: Job, seconds: int) -> dict[str, object]:
    return {
        "id": job.id,
        "lease_id": job.lease_id,
        "status": job.status.value,
        "command": job.command,
        "node": job.node,
        "gpu_indices": job.gpu_indices,
        "backend": job.backend,
        "backend_ref": job.backend_ref,
        "exit_code": job.exit_code,
        "reason": job.reason,
        "gpu_seconds": seconds,
    }


@app.command("submit", context_settings={"allow_extra_args": True})
def submit(
    lease_id: int,
    command: list[str] = typer.Argument(..., help="the command, after --"),
    gpus: int = typer.Option(1, min=1),
    env: list[str] = typer.Option([], "--env", help="NAME=VALUE, repeatable"),
    workdir: str | None = typer.Option(None),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run COMMAND on GPUS of the lease's GPUs (the worker starts it)."""
    variables = dict(item.split("=", 1) for item in env)
    with open_session() as session:
        lease = service.lease_for_jobs(session, lease_id)
        job = service.submit_job(
            session, lease, command=command, env=variables, gpus=gpus, workdir=workdir,
            image=None, actor=cli_actor(),
        )  # fmt: skip
        out = _dict(job, 0)
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        console.print(f"job {job.id} queued on {job.node}, GPUs {job.gpu_indices}", markup=False)


@app.command("show")
def show(job_id: int, as_json: bool = JSON_OPTION) -> None:
    with open_session() as session:
        job = service.get_job(session, job_id)
        out = _dict(job, service.job_seconds(session, job, utcnow()))
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    for key, value in out.items():
        console.print(f"{key}: {value}", markup=False)


@app.command("logs")
def logs(
    job_id: int, follow: bool = typer.Option(False, "--follow", "-f", help="until it ends")
) -> None:
    """Print the job's output (and, with --follow, what it writes next, until it ends)."""
    settings = load_settings()
    root = settings.resolved_data_dir() / "jobs"
    offset = 0
    while True:
        with open_session() as session:
            job = service.get_job(session, job_id)
            spec = service.spec_of(job, root)
            finished = job.status in FINAL
            backend = backends_for(settings)[job.backend]
        text, offset = backend.read_log(spec, offset)
        sys.stdout.write(text)
        sys.stdout.flush()
        if not follow or (finished and not text):
            return
        time.sleep(0.5)


@app.command("cancel")
def cancel(job_id: int) -> None:
    with open_session() as session:
        job = service.request_stop(
            session, service.get_job(session, job_id), reason="cancel", actor=cli_actor()
        )
        console.print(f"job {job.id}: {job.status.value} (stop requested)", markup=False)


def usage(
    lease: int | None = typer.Option(None, help="only this lease"), as_json: bool = JSON_OPTION
) -> None:
    """GPU-seconds per lease: allocated so far, and used by its jobs."""
    with open_session() as session:
        rows = service.usage(session, lease_ids=[lease] if lease else None)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("lease", "model", "GPUs", "status", "allocated GPU-s", "used GPU-s", "jobs")
    for r in rows:
        jobs = ", ".join(f"{j['job_id']}:{j['status']}:{j['gpu_seconds']}" for j in r["jobs"])
        table.add_row(
            str(r["lease_id"]), str(r["gpu_model"]), str(r["gpus"]), str(r["status"]),
            str(r["allocated_gpu_seconds"]), str(r["used_gpu_seconds"]), jobs,
        )  # fmt: skip
    console.print(table)
