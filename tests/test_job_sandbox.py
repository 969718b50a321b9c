"""The hostile renter on the local backend, as root: what a job tries to read, to keep
running, to fake or to widen, and how it fares. Each attack is one a renter can mount with
an ordinary job submission."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from gpurent.accounts.roles import Role
from gpurent.api.app import create_app
from gpurent.config import Settings
from gpurent.jobs.backends import backends_for
from gpurent.jobs.models import Job, JobSandbox
from gpurent.jobs.runner import run_jobs
from gpurent.jobs.sandbox.cgroups import available_bases
from gpurent.jobs.sandbox.lifecycle import SandboxPolicy
from gpurent.jobs.sandbox.processes import pids_of_user
from tests.conftest import JOB_WORKSPACES, make_token
from tests.test_cli import ok
from tests.test_compliance import bundled, mixed_fleet, renter

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the sandbox needs root (CI runs these tests as root)"
)
SECRET = "tenant-a-secret-7f3a"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The API as the operator's administrator, with its data directory outside /tmp (the
    jobs get a /tmp of their own, which would hide it rather than refuse it)."""
    place = Path(tempfile.mkdtemp(prefix="data-", dir=JOB_WORKSPACES))
    settings = Settings(data_dir=place / "data", database_url=str(engine.url))
    with TestClient(create_app(settings, engine=engine)) as test_client:
        token = make_token(engine, "Operator", "operator", "admin", Role.ADMIN)
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client
    shutil.rmtree(place, ignore_errors=True)


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


def worker_round(session: Session, settings: Settings, now: datetime, grace: float = 1) -> None:
    run_jobs(
        session, backends_for(settings), settings.job_records_dir(), now,
        timedelta(seconds=grace), SandboxPolicy.of(settings),
    )  # fmt: skip
    session.commit()


def until(check: Callable[[], bool], timeout: float = 20) -> None:
    """Wait for real processes (the only waiting these tests do)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def status_of(client: TestClient, job_id: int) -> str:
    status: str = client.get(f"/v1/jobs/{job_id}").json()["status"]
    return status


def run_to_end(
    client: TestClient, session: Session, job_id: int, grace: float = 1, timeout: float = 30
) -> dict[str, object]:
    settings = settings_of(client)

    def finished() -> bool:
        worker_round(session, settings, datetime.now(UTC), grace)
        return status_of(client, job_id) not in ("queued", "running")

    until(finished, timeout)
    done: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
    return done


def logs(client: TestClient, job_id: int) -> str:
    text: str = client.get(f"/v1/jobs/{job_id}/logs").json()["text"]
    return text


@pytest.fixture
def tenants(client: TestClient, engine: Engine, session: Session) -> list[dict[str, str]]:
    mixed_fleet(session)
    bundled(session)
    return [renter(client, engine, "university"), renter(client, engine, "european-start-up")]


def lease_for(client: TestClient, who: dict[str, str], gpus: int = 1, **extra: object) -> int:
    body = {"gpu_model": "A100-80GB", "gpus": gpus, "hours": 1, **extra}
    made = client.post("/v1/leases", json=body, headers=who)
    assert made.status_code == 201, made.text
    lease_id: int = made.json()["id"]
    return lease_id


def submit(
    client: TestClient, who: dict[str, str], lease_id: int, script: str, **extra: object
) -> int:
    body = {"command": ["sh", "-c", script], "gpus": 1, **extra}
    made = client.post(f"/v1/leases/{lease_id}/jobs", json=body, headers=who)
    assert made.status_code == 201, made.text
    job_id: int = made.json()["id"]
    return job_id


def test_a_job_reads_nothing_of_other_tenants_or_of_the_server(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    a, b = tenants
    settings = settings_of(client)
    data = settings.resolved_data_dir()
    token_file = data / "demo-token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"admin-token-value")
    os.close(fd)
    lease_a = lease_for(client, a)
    job_a = submit(client, a, lease_a, f"echo {SECRET}; echo {SECRET} > notes.txt", workdir="w")
    assert run_to_end(client, session, job_a)["status"] == "succeeded"
    assert SECRET in logs(client, job_a)

    lease_b = lease_for(client, b)
    workspace = settings.resolved_job_workspace_dir()
    targets = [
        settings.job_records_dir() / str(job_a) / "output.log",  # A's output
        workspace / f"lease-{lease_a}" / f"job-{job_a}" / "w" / "notes.txt",  # A's files
        token_file,
        data / "gpurent.db",
    ]
    attack = "; ".join(f"cat {t} 2>&1" for t in targets)
    attack += f"; cat /proc/{os.getpid()}/environ 2>&1"  # the server's settings
    attack += f"; ls {data} 2>&1; ls {workspace} 2>&1; env; id -u"
    job_b = submit(client, b, lease_b, attack)
    assert run_to_end(client, session, job_b)["status"] == "succeeded"  # `id -u` ends it
    seen = logs(client, job_b)
    assert SECRET not in seen
    assert "admin-token-value" not in seen
    assert seen.count("Permission denied") >= 7, seen
    assert "GPURENT_DATA_DIR" not in seen
    names = {line.split("=", 1)[0] for line in seen.splitlines() if re.match(r"^\w+=", line)}
    assert names <= {
        "CUDA_VISIBLE_DEVICES", "GPURENT_JOB_ID", "GPURENT_LEASE_ID", "HOME", "PATH", "PWD",
    }, names  # fmt: skip
    uids = {row.uid for row in session.scalars(select(JobSandbox))}
    assert len(uids) == 2  # one user per lease
    assert seen.split()[-1] in {str(uid) for uid in uids}  # it ran as its lease's user


def test_secrets_at_rest_are_private(tmp_path: Path) -> None:
    """The embedded default's data directory, database and WAL, made by the command line."""
    ok("db", "upgrade")
    data = Path(os.environ["GPURENT_DATA_DIR"])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("gpurent.db", "gpurent.db-wal", "gpurent.db-shm"):
        path = data / name
        if name == "gpurent.db" or path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"command": ["echo", "a\u0000b"]}, "command"),
        ({"command": ["true"], "env": {"A=B": "x"}}, "env"),
        ({"command": ["true"], "env": {"OK": "nul\u0000"}}, "env"),
        ({"command": ["true"], "env": {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}}, "env"),
        ({"command": ["true"], "workdir": "../../.."}, "workdir"),
        ({"command": ["true"], "workdir": "/"}, "workdir"),
        ({"command": ["x" * 40000]}, "command"),
        ({"command": ["true"] * 2000}, "command"),
    ],
)
def test_a_submission_that_could_not_run_is_refused_before_it_is_stored(
    client: TestClient, tenants: list[dict[str, str]], body: dict[str, object], field: str
) -> None:
    lease_id = lease_for(client, tenants[0])
    refused = client.post(
        f"/v1/leases/{lease_id}/jobs", json={"gpus": 1, **body}, headers=tenants[0]
    )
    assert refused.status_code == 422, refused.text
    fields = [f for item in refused.json()["detail"] for f in item["fields"]]
    assert any(str(f).startswith(field) for f in fields), refused.text
    assert client.get(f"/v1/leases/{lease_id}/jobs").json() == []


def test_nothing_survives_the_lease_end_plus_grace(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    renter_a = tenants[0]
    lease_id = lease_for(client, renter_a)
    # Detach in every way a shell offers: a new session, a double fork, a plain background.
    script = (
        'setsid sh -c "exec sleep 301" & (sh -c "sleep 302 &" &); '
        "nohup sleep 303 >/dev/null 2>&1 & trap '' TERM HUP; sleep 304 & exit 0"
    )
    job_id = submit(client, renter_a, lease_id, script)
    settings = settings_of(client)
    worker_round(session, settings, datetime.now(UTC))
    uid = session.scalars(select(JobSandbox.uid).where(JobSandbox.lease_id == lease_id)).one()
    until(lambda: len(pids_of_user(uid)) >= 4)
    worker_round(session, settings, datetime.now(UTC))
    # The first process exited 0, but the job runs on while any of its processes does.
    assert status_of(client, job_id) == "running"

    assert client.post(f"/v1/leases/{lease_id}/release", headers=renter_a).status_code == 200
    after_grace = datetime.now(UTC) + timedelta(seconds=2)
    worker_round(session, settings, after_grace)  # stop requested
    worker_round(session, settings, after_grace)  # killed; the job user swept
    assert pids_of_user(uid) == set()
    until(lambda: run_to_end(client, session, job_id)["status"] == "stopped")
    sandbox = session.get(JobSandbox, lease_id)
    assert sandbox is not None
    assert sandbox.released_at is not None
    home = settings.resolved_job_workspace_dir() / f"lease-{lease_id}"
    assert home.stat().st_uid == 0  # whoever gets this uid next cannot reach the old files
    later = datetime.now(UTC) + timedelta(hours=settings.job_retention_hours, seconds=5)
    worker_round(session, settings, later)
    assert not home.exists()


def test_metering_follows_the_processes_not_what_the_job_writes(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    renter_a = tenants[0]
    lease_id = lease_for(client, renter_a, gpus=2)
    fake = '{"exit_code": 0, "started_at": "2026-01-01T00:00:00+00:00", "wall_seconds": 1}'
    # Its own result.json, in its own directory and wherever it guesses the runner's is.
    script = f"echo '{fake}' > result.json; echo '{fake}' > ../result.json; sleep 3 & exit 0"
    job_id = submit(client, renter_a, lease_id, script, gpus=2)
    begin = time.monotonic()
    settings = settings_of(client)
    worker_round(session, settings, datetime.now(UTC))
    until(lambda: run_to_end(client, session, job_id)["status"] == "succeeded")
    elapsed = time.monotonic() - begin
    done = client.get(f"/v1/jobs/{job_id}").json()
    assert 3 <= done["gpu_seconds"] / 2 <= elapsed + 2, (done["gpu_seconds"], elapsed)


def test_a_job_that_ignores_sigterm_is_killed_and_metered_to_its_kill(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    renter_a = tenants[0]
    lease_id = lease_for(client, renter_a)
    job_id = submit(client, renter_a, lease_id, "trap '' TERM; while :; do sleep 1; done")
    settings = settings_of(client)
    begin = time.monotonic()
    worker_round(session, settings, datetime.now(UTC))
    uid = session.scalars(select(JobSandbox.uid).where(JobSandbox.lease_id == lease_id)).one()
    until(lambda: bool(pids_of_user(uid)))
    client.post(f"/v1/jobs/{job_id}/cancel", headers=renter_a)
    worker_round(session, settings, datetime.now(UTC))  # SIGTERM: ignored
    time.sleep(1.5)  # the job really runs on through its grace period
    assert pids_of_user(uid), "the job should have ignored SIGTERM"
    worker_round(session, settings, datetime.now(UTC) + timedelta(seconds=2))  # SIGKILL
    until(lambda: not pids_of_user(uid))
    ran = time.monotonic() - begin
    done = run_to_end(client, session, job_id)
    assert done["status"] == "cancelled"
    assert abs(int(str(done["gpu_seconds"])) - ran) <= 2, (done["gpu_seconds"], ran)


@pytest.mark.skipif("devices" not in available_bases(), reason="no cgroup v1 devices controller")
def test_cuda_visible_devices_cannot_widen_what_the_job_can_open(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    """Device files of every GPU index (char 195:N, as NVIDIA's driver makes them); the
    job re-exports CUDA_VISIBLE_DEVICES to all of them and opens each. With no driver here
    an openable device answers ENXIO; one the job did not lease is refused (EPERM)."""
    renter_a = tenants[0]
    devices = Path(os.environ["GPURENT_JOB_WORKSPACE_DIR"]).parent / f"dev-{os.getpid()}"
    devices.mkdir(mode=0o755, exist_ok=True)
    try:
        for minor in range(8):
            node = devices / f"nvidia{minor}"
            if not node.exists():
                os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(195, minor))
            node.chmod(0o666)
        lease_id = lease_for(client, renter_a, gpus=2)
        script = "export CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7; " + "; ".join(
            f"(: < {devices}/nvidia{m}) 2>&1 | sed 's/^/{m}: /'" for m in range(8)
        )
        job_id = submit(client, renter_a, lease_id, script, gpus=2)
        run_to_end(client, session, job_id)
        job = session.get(Job, job_id)
        assert job is not None
        seen = logs(client, job_id)
        for minor in range(8):
            line = next(x for x in seen.splitlines() if x.startswith(f"{minor}: "))
            if minor in job.gpu_indices:
                assert "No such device" in line, seen
            else:
                assert "Operation not permitted" in line, seen
    finally:
        for node in devices.glob("nvidia*"):
            node.unlink()
        devices.rmdir()


@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        ({"command": ["echo", "a\u0000b"]}, "exit code 127"),  # stored before validation
        ({"env": {"A=B": "x"}}, "exit code 127"),
        ({"command": None}, "could not start"),  # a damaged row
        ({"gpu_indices": None}, "could not start"),
    ],
)
def test_a_poisoned_job_stalls_nobody(
    client: TestClient,
    session: Session,
    tenants: list[dict[str, str]],
    poison: dict[str, object],
    reason: str,
) -> None:
    """A job row the worker cannot run fails alone, with its reason; another tenant's job
    starts and stops on time."""
    a, b = tenants
    bad = submit(client, a, lease_for(client, a), "true")
    session.execute(update(Job).where(Job.id == bad).values(poison))
    session.commit()
    good = submit(client, b, lease_for(client, b), "echo fine")
    done = run_to_end(client, session, good)
    assert (done["status"], logs(client, good).strip()) == ("succeeded", "fine")
    failed = client.get(f"/v1/jobs/{bad}").json()
    assert failed["status"] == "failed"
    assert failed["reason"].startswith(reason), failed


def test_a_customer_job_needs_the_sandbox(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    """Without root the local backend would run a renter's job as gpurent itself: the
    service refuses it then (here called as a non-root server would)."""
    from gpurent.errors import ConflictError
    from gpurent.jobs import service

    lease = service.lease_for_jobs(session, lease_for(client, tenants[0]))
    with pytest.raises(ConflictError, match="not root"):
        service.submit_job(
            session, lease, command=["true"], env={}, gpus=1, workdir=None, image=None,
            actor="test", customer_jobs_allowed=False,
        )  # fmt: skip


def test_a_planted_link_cannot_make_gpurent_chown_elsewhere(
    client: TestClient, session: Session, tenants: list[dict[str, str]]
) -> None:
    """A job links the directory of the lease's next job to a root-owned directory; the
    next job does not run there, and the directory stays root's."""
    renter_a = tenants[0]
    victim = Path(tempfile.mkdtemp(prefix="victim-", dir=JOB_WORKSPACES))
    try:
        lease_id = lease_for(client, renter_a)
        # The lease's next job will be this one's id + 1: the link waits for it.
        first = submit(client, renter_a, lease_id, f"ln -s {victim} ../job-$((GPURENT_JOB_ID + 1))")
        assert run_to_end(client, session, first)["status"] == "succeeded"
        second = submit(client, renter_a, lease_id, "touch planted")
        worker_round(session, settings_of(client), datetime.now(UTC))
        assert victim.stat().st_uid == 0
        assert not (victim / "planted").exists()
        shown = client.get(f"/v1/jobs/{second}").json()
        assert shown["status"] == "queued"
        assert "cannot prepare the job's directory" in shown["reason"]
    finally:
        shutil.rmtree(victim, ignore_errors=True)
