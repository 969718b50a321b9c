"""The Slurm backend end to end, against a real Slurm cluster with fake GPUs (started by
.ci/run with ../shared/tools/slurm-test-cluster): import the fleet from Slurm, lease a
whole node (a reservation), run a job that prints CUDA_VISIBLE_DEVICES, extend the lease,
see a job stopped at the lease's end, and read usage that matches sacct."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.test_cli import ok


@pytest.fixture(autouse=True)
def slurm(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    reason = ""
    if not os.environ.get("SLURM_CONF"):
        reason = "SLURM_CONF is not set: start ../shared/tools/slurm-test-cluster/start.sh"
    elif shutil.which("scontrol") is None:
        reason = "Slurm's commands are not installed"
    elif subprocess.run(["scontrol", "ping"], capture_output=True, check=False).returncode:
        reason = "no Slurm controller answers scontrol ping"
    if reason:
        if os.environ.get("GPURENT_REQUIRE_SLURM") == "1":
            pytest.fail(f"{reason} (GPURENT_REQUIRE_SLURM=1: Slurm tests may not skip)")
        pytest.skip(reason)
    namespace = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GPURENT_SLURM_NAMESPACE", namespace)
    monkeypatch.setenv("GPURENT_JOB_GRACE_SECONDS", "2")
    yield namespace
    _clean(namespace)


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
