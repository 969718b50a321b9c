"""Jobs on leased GPUs with the local backend: isolation, logs, lease end, usage, and a
worker killed mid-job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gpurent.config import Settings
from gpurent.jobs.backends import backends_for
from gpurent.jobs.models import Job
from gpurent.jobs.runner import run_jobs
from gpurent.jobs.sandbox.lifecycle import SandboxPolicy
from tests.builders import load_fleet, priced_fleet
from tests.test_cli import GPURENT, ok
from tests.test_compliance import bundled, mixed_fleet, renter

SHOW_GPUS = ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES; sleep 2"]


def work(session: Session, settings: Settings, until: float = 30, grace: float = 2) -> None:
    """Run the worker's job steps until nothing is queued or running."""
    backends = backends_for(settings)
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        run_jobs(
            session, backends, settings.job_records_dir(), datetime.now(UTC),
            timedelta(seconds=grace), SandboxPolicy.of(settings),
        )  # fmt: skip
        statuses = set(session.scalars(select(Job.status)))
        session.commit()
        if not statuses & {"queued", "running"}:
            return
        time.sleep(0.3)
    raise AssertionError("jobs did not finish")


@pytest.fixture
def tenant(client: TestClient, engine: Engine, session: Session) -> dict[str, str]:
    mixed_fleet(session)
    bundled(session)
    return renter(client, engine, "university")


def settings_of(client: TestClient) -> Settings:
    """The server's settings: the worker in these tests uses the same."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


def test_a_job_sees_exactly_its_leased_gpus(
    client: TestClient, session: Session, tenant: dict[str, str]
) -> None:
    other = client.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 3, "hours": 1})
    assert other.status_code == 201  # the operator holds three GPUs of the node first
    lease = client.post(
        "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 2, "hours": 1}, headers=tenant
    ).json()
    held = sorted(int(address.split("/")[1]) for address in lease["gpu_addresses"])
    job = client.post(
        f"/v1/leases/{lease['id']}/jobs", json={"command": SHOW_GPUS, "gpus": 2}, headers=tenant
    )
    assert job.status_code == 201, job.text
    assert job.json()["status"] == "queued"
    work(session, settings_of(client))
    done = client.get(f"/v1/jobs/{job.json()['id']}", headers=tenant).json()
    assert (done["status"], done["exit_code"]) == ("succeeded", 0)
    logs = client.get(f"/v1/jobs/{done['id']}/logs", headers=tenant).json()
    assert logs["text"].strip() == ",".join(str(i) for i in held)
    assert logs["finished"] is True
    assert done["gpu_seconds"] >= 4  # 2 GPUs x at least 2 s
    assert done["gpu_samples"] is None  # no NVML on this machine: absent, not faked
    (row,) = [
        r for r in client.get("/v1/usage", headers=tenant).json() if r["lease_id"] == lease["id"]
    ]
    assert row["used_gpu_seconds"] == done["gpu_seconds"]
    assert row["allocated_gpu_seconds"] >= 0
    metrics = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }
    assert metrics[("gpurent_jobs", (("status", "succeeded"),))] == 1
    used = ("gpurent_gpu_seconds_used_total", (("source", "process accounting"),))
    assert metrics[used] == done["gpu_seconds"]


def test_isolation(
    client: TestClient, engine: Engine, session: Session, tenant: dict[str, str]
) -> None:
    lease = client.post(
        "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 2, "hours": 1}, headers=tenant
    ).json()
    too_many = client.post(
        f"/v1/leases/{lease['id']}/jobs", json={"command": ["true"], "gpus": 3}, headers=tenant
    )
    assert too_many.status_code == 422
    assert "holds 2" in too_many.text
    stranger = renter(client, engine, "european-start-up")
    foreign = client.post(
        f"/v1/leases/{lease['id']}/jobs", json={"command": ["true"], "gpus": 1}, headers=stranger
    )
    assert foreign.status_code == 404
    image = client.post(
        f"/v1/leases/{lease['id']}/jobs",
        json={"command": ["true"], "gpus": 1, "image": "pytorch:latest"},
        headers=tenant,
    )
    assert image.status_code == 422


def test_a_job_is_stopped_when_its_lease_ends(
    client: TestClient, session: Session, tenant: dict[str, str]
) -> None:
    settings = settings_of(client)
    lease = client.post(
        "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}, headers=tenant
    ).json()
    job = client.post(
        f"/v1/leases/{lease['id']}/jobs",
        json={"command": ["sh", "-c", "trap '' TERM; sleep 60"], "gpus": 1},
        headers=tenant,
    ).json()
    backends = backends_for(settings)
    run_jobs(session, backends, settings.job_records_dir(), datetime.now(UTC), timedelta(seconds=1))
    assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "running"
    client.post(f"/v1/leases/{lease['id']}/release", headers=tenant)
    # The job ignores SIGTERM: after the grace period it is killed.
    work(session, settings, grace=1)
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "stopped"
    assert "lease ended" in done["reason"]


def test_cancel_a_queued_job(client: TestClient, tenant: dict[str, str]) -> None:
    lease = client.post(
        "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}, headers=tenant
    ).json()
    job = client.post(
        f"/v1/leases/{lease['id']}/jobs", json={"command": ["true"], "gpus": 1}, headers=tenant
    ).json()
    cancelled = client.post(f"/v1/jobs/{job['id']}/cancel", headers=tenant).json()
    assert cancelled["status"] == "cancelled"


def test_a_killed_worker_loses_nothing_and_counts_once(tmp_path: Path) -> None:
    """A real `gpurent worker`, killed with SIGKILL while a job runs, then restarted."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(priced_fleet(nodes=1))
    ok("fleet", "import", str(fleet))
    lease = json.loads(ok("lease", "create", "A100-80GB", "2", "--hours", "1", "--json"))
    job = json.loads(
        ok("job", "submit", str(lease["id"]), "--gpus", "2", "--json", "--", "sh", "-c", "sleep 3")
    )
    env = {**os.environ, "GPURENT_WORKER_INTERVAL_SECONDS": "0.2"}
    worker = subprocess.Popen([GPURENT, "worker"], env=env)
    try:
        deadline = time.monotonic() + 30
        while json.loads(ok("job", "show", str(job["id"]), "--json"))["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(4)  # the job finishes while no worker runs
    ok("worker", "--once")
    ok("worker", "--once")  # a second pass must not count the job again
    shown = json.loads(ok("job", "show", str(job["id"]), "--json"))
    assert shown["status"] == "succeeded"
    usage = json.loads(ok("usage", "--json"))
    (row,) = [r for r in usage if r["lease_id"] == lease["id"]]
    assert row["used_gpu_seconds"] == shown["gpu_seconds"] >= 6  # 2 GPUs x 3 s, once


def test_a_backend_that_is_down_makes_the_job_wait(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    text = priced_fleet(nodes=1).replace(
        "    city: Testville", "    city: Testville\n    backend: slurm"
    )
    load_fleet(session, text)
    lease = client.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 8, "hours": 1}).json()
    job = client.post(
        f"/v1/leases/{lease['id']}/jobs", json={"command": ["true"], "gpus": 1}
    ).json()
    report = run_jobs(session, {}, tmp_path, datetime.now(UTC), timedelta(seconds=1))
    assert job["id"] in report.waiting
    shown = client.get(f"/v1/jobs/{job['id']}").json()
    assert shown["status"] == "queued"
    assert shown["reason"].startswith("waiting: no slurm backend")
    assert client.get(f"/v1/leases/{lease['id']}").json()["status"] == "active"
