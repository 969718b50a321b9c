"""``gpurent job`` and ``gpurent usage``: run work on a lease, read its logs, see the GPU
time used."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer

from gpurent.cli import remote
from gpurent.cli.common import JSON_OPTION, cli_actor, console, open_session
from gpurent.cli.render import (
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    emit,
    hours,
    output_format,
    say,
    show_table,
)
from gpurent.config import load_settings
from gpurent.errors import InvalidInputError
from gpurent.jobs import service
from gpurent.jobs.backends import backends_for
from gpurent.jobs.backends.local import may_run_customer_jobs
from gpurent.jobs.models import Job
from gpurent.jobs.schemas import JobIn, JobOut
from gpurent.jobs.states import FINAL
from gpurent.timeutil import utcnow

app = typer.Typer(help="Jobs on leased GPUs.", no_args_is_help=True)


def _dict(job: Job, seconds: int) -> dict[str, object]:
    # The API's shape (JobOut), so that both modes print the same.
    return JobOut.of(job, seconds, None).model_dump(mode="json")


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
    malformed = [item for item in env if "=" not in item]
    if malformed:
        raise InvalidInputError(f"--env {malformed[0]!r}: expected NAME=VALUE", fields=["env"])
    variables = dict(item.split("=", 1) for item in env)
    api = remote.client()
    if api is not None:
        body = JobIn(command=command, env=variables, gpus=gpus, workdir=workdir)
        _submitted(api.submit_job(lease_id, body).model_dump(mode="json"), as_json)
        return
    with open_session() as session:
        lease = service.lease_for_jobs(session, lease_id)
        job = service.submit_job(
            session, lease, command=command, env=variables, gpus=gpus, workdir=workdir,
            image=None, actor=cli_actor(),
            customer_jobs_allowed=may_run_customer_jobs(
                load_settings().unsafe_local_customer_jobs
            ),
        )  # fmt: skip
        out = _dict(job, 0)
    _submitted(out, as_json)


def _submitted(out: dict[str, object], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        say(f"job {out['id']} queued on {out['node']}, GPUs {out['gpu_indices']}")


@app.command("show")
def show(
    job_id: int, as_json: bool = JSON_OPTION, output: OutputFormat | None = OUTPUT_OPTION
) -> None:
    """A job: status, exit code, reason, GPU-seconds."""
    api = remote.client()
    if api is not None:
        out = api.job(job_id).model_dump(mode="json")
    else:
        with open_session() as session:
            job = service.get_job(session, job_id)
            out = _dict(job, service.job_seconds(session, job, utcnow()))
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    text = "".join(f"{key}: {value}\n" for key, value in out.items())
    emit(out, output_format(False, output), lambda: text)


@app.command("logs")
def logs(
    job_id: int, follow: bool = typer.Option(False, "--follow", "-f", help="until it ends")
) -> None:
    """Print the job's output (and, with --follow, what it writes next, until it ends)."""
    api = remote.client()
    if api is not None:
        chunks = api.follow_logs(job_id) if follow else iter([api.job_logs(job_id).text])
        for text in chunks:
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    settings = load_settings()
    root = settings.job_records_dir()
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
    api = remote.client()
    if api is not None:
        stopped = api.cancel_job(job_id)
        say(f"job {stopped.id}: {stopped.status} (stop requested)")
        return
    with open_session() as session:
        job = service.request_stop(
            session, service.get_job(session, job_id), reason="cancel", actor=cli_actor()
        )
        console.print(f"job {job.id}: {job.status.value} (stop requested)", markup=False)


def usage(
    lease: int | None = typer.Option(None, help="only this lease"),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """GPU-seconds per lease: allocated so far, and used by its jobs."""
    api = remote.client()
    if api is not None:
        rows = api.usage(lease)
    else:
        with open_session() as session:
            rows = service.usage(session, lease_ids=[lease] if lease else None)
    show_table(rows, rows, USAGE_COLUMNS, output_format(as_json, output), wide)


USAGE_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("lease", lambda r: str(r["lease_id"]), right=True),
    Column("status", lambda r: str(r["status"])),
    Column("GPUs", lambda r: f"{r['gpus']} x {r['gpu_model']}"),
    Column("allocated", lambda r: hours(r["allocated_gpu_seconds"]), right=True),
    Column("used", lambda r: hours(r["used_gpu_seconds"]), right=True),
    Column(
        "jobs (id:status:GPU-s)",
        lambda r: ", ".join(f"{j['job_id']}:{j['status']}:{j['gpu_seconds']}" for j in r["jobs"]),
        priority=1,
        fold=True,
    ),
]
