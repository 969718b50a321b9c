"""The Slurm backend end to end, against a real Slurm cluster with fake GPUs (started by
.ci/run with ../shared/tools/slurm-test-cluster): import the fleet from Slurm, lease a
whole node (a reservation), run a job that prints CUDA_VISIBLE_DEVICES, extend the lease,
see a job stopped at the lease's end, and read usage that matches sacct. Customers' jobs
run as their organizations' own Unix users and Slurm accounts (two users this file
creates, as root), and neither can read the other's output, nor make gpurent read it."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gpurent.jobs import service as jobs
from gpurent.jobs.backends import slurm_output
from gpurent.jobs.backends.base import BackendError
from gpurent.jobs.backends.slurm import SlurmBackend
from gpurent.jobs.runner import run_jobs
from gpurent.timeutil import utcnow
from tests.builders import load_fleet, priced_fleet
from tests.test_cli import ok, run
from tests.test_compliance import DOSSIERS, bundled, renter

# Two Unix users of the cluster (and Slurm accounts of the same names), one per customer.
USERS = ("gpurent-ci-a", "gpurent-ci-b")


def _required(reason: str) -> None:
    if os.environ.get("GPURENT_REQUIRE_SLURM") == "1":
        pytest.fail(f"{reason} (GPURENT_REQUIRE_SLURM=1: Slurm tests may not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def unix_users() -> tuple[str, str]:
    """The two users, created when missing (root only, as CI runs)."""
    if os.geteuid() != 0:
        _required("creating the customers' Unix users needs root")
    for user in USERS:
        if subprocess.run(["id", user], capture_output=True, check=False).returncode:
            subprocess.run(
                ["useradd", "--no-create-home", "--shell", "/bin/sh", "--user-group", user],
                check=True,
            )
    return USERS


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    reason = ""
    if not os.environ.get("SLURM_CONF"):
        reason = "SLURM_CONF is not set: start ../shared/tools/slurm-test-cluster/start.sh"
    elif shutil.which("scontrol") is None:
        reason = "Slurm's commands are not installed"
    elif subprocess.run(["scontrol", "ping"], capture_output=True, check=False).returncode:
        reason = "no Slurm controller answers scontrol ping"
    if reason:
        _required(reason)
    namespace = f"t{uuid.uuid4().hex[:8]}"
    output = Path(f"/tmp/gpurent-slurm-{namespace}")  # reachable by the jobs' users
    monkeypatch.setenv("GPURENT_SLURM_NAMESPACE", namespace)
    monkeypatch.setenv("GPURENT_SLURM_OUTPUT_DIR", str(output))
    monkeypatch.setenv("GPURENT_JOB_GRACE_SECONDS", "2")
    yield namespace
    _clean(namespace)
    shutil.rmtree(output, ignore_errors=True)


@pytest.fixture
def slurm_users(slurm: str, unix_users: tuple[str, str]) -> tuple[str, str]:
    """The two users, each with a Slurm account of its own name (where accounting runs)."""
    if shutil.which("sacctmgr"):
        for user in unix_users:
            subprocess.run(["sacctmgr", "-i", "add", "account", user], capture_output=True)
            subprocess.run(
                ["sacctmgr", "-i", "add", "user", user, f"Account={user}"], capture_output=True
            )
    return unix_users


def _clean(namespace: str) -> None:
    """Leave the shared cluster as found: this test's jobs and reservations go."""
    queue = subprocess.run(
        ["squeue", "-h", "-o", "%i %j"], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    for line in queue:
        if f" {namespace}-" in f" {line.split(' ', 1)[-1]}":
            subprocess.run(["scancel", line.split()[0]], check=False)
    shown = subprocess.run(
        ["scontrol", "show", "reservation"], capture_output=True, text=True, check=False
    ).stdout
    for name in re.findall(rf"ReservationName=({namespace}-\S+)", shown):
        subprocess.run(["scontrol", "delete", f"ReservationName={name}"], check=False)


def worker_until(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok("worker", "--once")
        if done():
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


def job(job_id: int) -> dict[str, object]:
    shown: dict[str, object] = json.loads(ok("job", "show", str(job_id), "--json"))
    return shown


def reservation(name: str) -> str:
    shown = subprocess.run(
        ["scontrol", "show", "reservation", name], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else ""


def setup_fleet() -> None:
    out = ok("fleet", "import", "--from-slurm", "--facility", "hpc-1", "--country", "US")
    assert "+ node gpu1 in hpc-1" in out
    nodes = {n["name"]: n for n in json.loads(ok("fleet", "list", "--json"))}
    assert {"gpu1", "gpu2"} <= set(nodes)
    prices = os.path.join(os.environ["GPURENT_DATA_DIR"], "prices.yaml")
    with open(prices, "w") as f:
        f.write("facilities: []\nrate_cards:\n  - {gpu_model: A100-80GB, on_demand: 1.25}\n")
    ok("fleet", "import", prices)


def test_whole_node_lease_reservation_job_extension_and_usage(slurm: str) -> None:
    setup_fleet()
    lease = json.loads(ok("lease", "create", "A100-80GB", "8", "--hours", "1", "--json"))
    name = f"{slurm}-lease-{lease['id']}"
    worker_until(lambda: bool(reservation(name)))
    node = lease["gpu_addresses"][0].split("/")[0]
    assert f"Nodes={node}" in reservation(name)

    submitted = json.loads(
        ok("job", "submit", str(lease["id"]), "--gpus", "2", "--json", "--",
           "sh", "-c", "echo $CUDA_VISIBLE_DEVICES; sleep 1")
    )  # fmt: skip
    worker_until(lambda: job(submitted["id"])["status"] in ("succeeded", "failed"))
    done = job(submitted["id"])
    assert done["status"] == "succeeded", done
    assert ok("job", "logs", str(done["id"])).strip() == "0,1"

    sacct = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", str(done["backend_ref"]), "-o", "AllocTRES,ElapsedRaw"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    tres, elapsed = sacct.split("|")
    gpus = int(re.search(r"gres/gpu=(\d+)", tres).group(1))  # type: ignore[union-attr]
    assert done["gpu_seconds"] == gpus * int(elapsed)
    usage = json.loads(ok("usage", "--json"))
    (row,) = [r for r in usage if r["lease_id"] == lease["id"]]
    assert row["used_gpu_seconds"] == gpus * int(elapsed)

    before = re.search(r"EndTime=(\S+)", reservation(name)).group(1)  # type: ignore[union-attr]
    ok("lease", "extend", str(lease["id"]), "--hours", "2")
    worker_until(
        lambda: re.search(r"EndTime=(\S+)", reservation(name)).group(1) != before  # type: ignore[union-attr]
    )


def test_a_job_is_stopped_at_lease_end_and_the_reservation_goes(slurm: str) -> None:
    setup_fleet()
    lease = json.loads(ok("lease", "create", "A100-80GB", "8", "--hours", "1", "--json"))
    name = f"{slurm}-lease-{lease['id']}"
    submitted = json.loads(
        ok("job", "submit", str(lease["id"]), "--gpus", "1", "--json", "--", "sleep", "300")
    )
    worker_until(lambda: job(submitted["id"])["status"] == "running")
    ok("lease", "release", str(lease["id"]))
    worker_until(lambda: job(submitted["id"])["status"] == "stopped")
    assert "lease ended" in str(job(submitted["id"])["reason"])
    worker_until(lambda: not reservation(name))


def test_partial_node_lease_runs_on_its_node_without_a_reservation(slurm: str) -> None:
    setup_fleet()
    lease = json.loads(ok("lease", "create", "A100-80GB", "2", "--hours", "1", "--json"))
    submitted = json.loads(
        ok("job", "submit", str(lease["id"]), "--gpus", "2", "--json", "--",
           "sh", "-c", "echo $CUDA_VISIBLE_DEVICES")
    )  # fmt: skip
    worker_until(lambda: job(submitted["id"])["status"] == "succeeded")
    assert not reservation(f"{slurm}-lease-{lease['id']}")
    assert ok("job", "logs", str(submitted["id"])).strip() == "0,1"
    assert job(submitted["id"])["node"] == lease["gpu_addresses"][0].split("/")[0]


# Customers' jobs as their own users


def customers_with_accounts(users: tuple[str, str]) -> None:
    """Two screened customers, Lakeside and Brightwave, mapped to the two users."""
    ok("lists", "import", "--bundled")
    for name, record in (("Lakeside", "university"), ("Brightwave", "european-start-up")):
        ok("org", "create", name, "--country", "US")
        ok("org", "dossier", name, str(DOSSIERS / f"{record}.json"))
    mapping = os.path.join(os.environ["GPURENT_DATA_DIR"], "accounts.yaml")
    with open(mapping, "w") as f:
        f.write(
            "facilities:\n"
            "  - name: hpc-1\n    country: US\n    city: unknown\n    backend: slurm\n"
            "    slurm_accounts:\n"
            f"      - {{organization: Lakeside, user: {users[0]}, account: {users[0]}}}\n"
            f"      - {{organization: Brightwave, user: {users[1]}, account: {users[1]}}}\n"
        )
    assert "+ slurm account of Lakeside in hpc-1" in ok("fleet", "import", mapping)


def submit(lease_id: int, script: str) -> int:
    out = ok("job", "submit", str(lease_id), "--gpus", "1", "--json", "--", "sh", "-c", script)
    job_id: int = json.loads(out)["id"]
    return job_id


def finished(job_id: int) -> dict[str, object]:
    worker_until(lambda: job(job_id)["status"] in ("succeeded", "failed"))
    done = job(job_id)
    assert done["status"] == "succeeded", done
    return done


def sacct_user_and_account(ref: object) -> str:
    return subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", str(ref), "-o", "User,Account"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_two_customers_run_as_their_own_users_and_cannot_read_each_other(
    slurm: str, slurm_users: tuple[str, str]
) -> None:
    user_a, user_b = slurm_users
    setup_fleet()
    customers_with_accounts(slurm_users)
    lease_a = json.loads(
        ok("lease", "create", "A100-80GB", "2", "--hours", "1", "--org", "Lakeside", "--json")
    )
    lease_b = json.loads(
        ok("lease", "create", "A100-80GB", "8", "--hours", "1", "--org", "Brightwave", "--json")
    )
    name = f"{slurm}-lease-{lease_b['id']}"  # a whole node: B's jobs run in its reservation
    worker_until(lambda: bool(reservation(name)))

    b = finished(submit(lease_b["id"], "id -un; echo SECRET-B; echo note-of-b > note.txt"))
    assert ok("job", "logs", str(b["id"])).split() == [user_b, "SECRET-B"]
    assert re.search(rf"Users=\S*\b{user_b}\b", reservation(name))
    output = Path(os.environ["GPURENT_SLURM_OUTPUT_DIR"])
    b_dir = output / f"{slurm}-job-{b['id']}"
    assert b_dir.stat().st_uid == int(subprocess.check_output(["id", "-u", user_b]))
    assert stat.S_IMODE(b_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(output.stat().st_mode) == 0o711

    # A's job tries B's output, B's files and the listing of every job's directory.
    a = finished(
        submit(
            lease_a["id"],
            f"id -un; env | grep ^GPURENT_ | cut -d= -f1 | sort; "
            f"cat {b_dir}/output.log {b_dir}/note.txt 2>&1; ls {output} 2>&1; true",
        )
    )
    seen = ok("job", "logs", str(a["id"]))
    assert seen.splitlines()[:3] == [user_a, "GPURENT_JOB_ID", "GPURENT_LEASE_ID"]
    assert "SECRET-B" not in seen
    assert "note-of-b" not in seen
    assert seen.count("Permission denied") == 3, seen
    assert sacct_user_and_account(a["backend_ref"]) == f"{user_a}|{user_a}"
    assert sacct_user_and_account(b["backend_ref"]) == f"{user_b}|{user_b}"

    # ...and to make gpurent (root) read it for A: its output file becomes a link to B's.
    swap = finished(submit(lease_a["id"], f"rm -f output.log; ln -s {b_dir}/output.log output.log"))
    assert (output / f"{slurm}-job-{swap['id']}" / "output.log").is_symlink()
    assert ok("job", "logs", str(swap["id"])) == ""


def test_a_customer_without_a_slurm_account_cannot_submit(
    slurm: str, slurm_users: tuple[str, str]
) -> None:
    setup_fleet()
    customers_with_accounts(slurm_users)
    ok("org", "create", "Unmapped", "--country", "US")
    ok("org", "dossier", "Unmapped", str(DOSSIERS / "university.json"))
    lease = json.loads(
        ok("lease", "create", "A100-80GB", "1", "--hours", "1", "--org", "Unmapped", "--json")
    )
    refused = run("job", "submit", str(lease["id"]), "--gpus", "1", "--", "id", "-un")
    assert refused.returncode == 1
    assert "Unmapped has no Slurm account on facility hpc-1" in refused.stderr
    (row,) = [r for r in json.loads(ok("usage", "--json")) if r["lease_id"] == lease["id"]]
    assert row["jobs"] == []  # nothing was stored


# The same rules without a cluster: submission, start, and the files gpurent reads


def slurm_facility(mapped: str) -> str:
    """One priced Slurm node; `mapped` runs as user `cust-a`, account `acct-a`."""
    return priced_fleet(nodes=1).replace(
        "    city: Testville\n",
        "    city: Testville\n    backend: slurm\n    slurm_accounts:\n"
        f"      - {{organization: {mapped}, user: cust-a, account: acct-a}}\n",
    )


class TestSubmission:
    def lease(self, client: TestClient, headers: dict[str, str]) -> int:
        created = client.post(
            "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}, headers=headers
        )
        assert created.status_code == 201, created.text
        lease_id: int = created.json()["id"]
        return lease_id

    def test_only_a_mapped_customer_may_submit(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        bundled(session)
        mapped = renter(client, engine, "university")
        unmapped = renter(client, engine, "european-start-up")
        load_fleet(session, slurm_facility("university"))
        body = {"command": ["id", "-un"], "gpus": 1}
        lease_id = self.lease(client, unmapped)
        refused = client.post(f"/v1/leases/{lease_id}/jobs", json=body, headers=unmapped)
        assert refused.status_code == 409
        (item,) = refused.json()["detail"]
        assert item["code"] == "no_slurm_account"
        assert "european-start-up has no Slurm account" in item["msg"]
        assert "university" not in item["msg"]
        assert "cust-a" not in item["msg"]
        assert client.get(f"/v1/leases/{lease_id}/jobs", headers=unmapped).json() == []
        accepted = client.post(
            f"/v1/leases/{self.lease(client, mapped)}/jobs", json=body, headers=mapped
        )
        assert accepted.status_code == 201, accepted.text

    def test_the_operator_runs_as_gpurents_own_user_without_a_mapping(
        self, client: TestClient, session: Session
    ) -> None:
        load_fleet(
            session, priced_fleet(nodes=1).replace("Testville\n", "Testville\n    backend: slurm\n")
        )
        lease_id = self.lease(client, {})
        posted = client.post(f"/v1/leases/{lease_id}/jobs", json={"command": ["true"], "gpus": 1})
        assert posted.status_code == 201, posted.text

    def test_a_job_whose_mapping_went_away_fails_with_the_reason(
        self, client: TestClient, engine: Engine, session: Session, tmp_path: Path
    ) -> None:
        bundled(session)
        headers = renter(client, engine, "university")
        load_fleet(session, slurm_facility("university"))
        lease_id = self.lease(client, headers)
        posted = client.post(
            f"/v1/leases/{lease_id}/jobs", json={"command": ["id"], "gpus": 1}, headers=headers
        )
        unmapped = re.sub(r"slurm_accounts:\n.*\n", "slurm_accounts: []\n", slurm_facility("x"))
        assert load_fleet(session, unmapped).changes == [
            "- slurm account of university in us-test-1"
        ]
        session.commit()
        backend = SlurmBackend("never-called", output=tmp_path / "out")
        report = run_jobs(session, {"slurm": backend}, tmp_path, utcnow(), timedelta(seconds=2))
        assert report.started == []
        failed = jobs.get_job(session, posted.json()["id"])
        session.refresh(failed)
        assert failed.status == "failed"
        assert "university has no Slurm account on facility us-test-1" in str(failed.reason)
        assert not (tmp_path / "out").exists()  # nothing was prepared, nothing submitted


@pytest.fixture
def job_user(unix_users: tuple[str, str]) -> tuple[int, int]:
    entry = subprocess.check_output(["getent", "passwd", unix_users[0]], text=True).split(":")
    return int(entry[2]), int(entry[3])


class TestOutputFiles:
    """What gpurent creates and reads as root in directories its jobs' users own."""

    def test_the_job_directory_is_its_users_alone(
        self, tmp_path: Path, job_user: tuple[int, int]
    ) -> None:
        root = tmp_path / "out"
        start = slurm_output.prepare(root, "ns-job-1", "a/b", job_user)
        assert start == root / "ns-job-1" / "a" / "b"
        for path in (root / "ns-job-1", root / "ns-job-1" / "a", start):
            info = path.stat()
            assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (*job_user, 0o700)
        assert (root.stat().st_uid, stat.S_IMODE(root.stat().st_mode)) == (0, 0o711)

    def test_a_root_others_can_write_is_refused(
        self, tmp_path: Path, job_user: tuple[int, int]
    ) -> None:
        root = tmp_path / "out"
        root.mkdir()
        root.chmod(0o777)
        with pytest.raises(BackendError, match="writable by no one else"):
            slurm_output.prepare(root, "ns-job-1", None, job_user)

    def test_a_planted_link_is_never_followed(
        self, tmp_path: Path, job_user: tuple[int, int]
    ) -> None:
        root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        slurm_output.prepare(root, "ns-job-1", None, job_user)
        (root / "ns-job-1" / "work").symlink_to(elsewhere)  # as the job could
        with pytest.raises(BackendError):
            slurm_output.prepare(root, "ns-job-1", "work/deeper", job_user)
        assert elsewhere.stat().st_uid == 0
        assert not (elsewhere / "deeper").exists()

    def test_only_the_users_own_regular_file_is_read(
        self, tmp_path: Path, job_user: tuple[int, int]
    ) -> None:
        root, secret = tmp_path / "out", tmp_path / "secret"
        secret.write_text("root's secret")
        slurm_output.prepare(root, "ns-job-1", None, job_user)
        log = root / "ns-job-1" / "output.log"
        assert slurm_output.read(root, "ns-job-2", 0) is None  # no such job here
        assert slurm_output.read(root, "ns-job-1", 0) == ("", 0)  # not started yet
        log.write_text("hello\n")
        os.chown(log, *job_user)
        assert slurm_output.read(root, "ns-job-1", 0) == ("hello\n", 6)
        assert slurm_output.read(root, "ns-job-1", 2) == ("llo\n", 6)
        attacks: list[Callable[[], None]] = [
            lambda: log.symlink_to(secret),
            lambda: os.link(secret, log),  # (the kernel forbids this to the user, too)
            lambda: os.mkfifo(log),  # would block a reader that waits for a writer
            lambda: (log.write_text("root's own"), None)[1],  # a file the user does not own
        ]
        for attack in attacks:
            log.unlink()
            attack()
            assert slurm_output.read(root, "ns-job-1", 0) == ("", 0)
