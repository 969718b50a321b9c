"""Job submission and status polling through gpurent, against calling sbatch and squeue
directly, in the same run, on the Slurm test cluster.

    SLURM_CONF=/tmp/slurm-test-cluster/etc/slurm.conf .venv/bin/python -m bench.jobs

Through gpurent, a submission is the API request (POST /v1/leases/{id}/jobs, recorded as
queued) plus the worker's dispatch of it (a check that no job of that name is queued
already, sbatch, then the job marked running); a status poll is
GET /v1/jobs/{id} (a database read) and, for comparison, the worker's own poll of a
running job (squeue).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.builders import load_fleet
from tests.conftest import make_token

from gpurent.accounts.roles import Role
from gpurent.api.app import create_app
from gpurent.config import Settings
from gpurent.db.engine import make_engine, make_session_factory
from gpurent.jobs.backends.slurm import SlurmBackend
from gpurent.jobs.runner import JobsReport, run_jobs
from gpurent.jobs.runner import _start_queued as start_queued
from gpurent.jobs.sandbox.lifecycle import SandboxPolicy
from gpurent.jobs.slurm_fleet import fleet_text_from_slurm

JOBS = 40
POLLS = 200


def available() -> bool:
    try:
        return (
            subprocess.run(["scontrol", "ping"], capture_output=True, check=False).returncode == 0
        )
    except FileNotFoundError:
        return False


def _mean_ms(samples: list[float]) -> float:
    return statistics.mean(samples) * 1000


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(
            data_dir=Path(workdir), database_url=f"sqlite:///{workdir}/bench.db",
            slurm_namespace=f"bench{int(time.time())}",
        )  # fmt: skip
        engine = make_engine(settings.resolved_database_url())
        app = create_app(settings, engine=engine)
        factory = make_session_factory(engine)
        with TestClient(app) as client, factory() as session:
            text = fleet_text_from_slurm("hpc-bench", "US", "Austin", "A100-80GB")
            load_fleet(session, text + "rate_cards:\n  - {gpu_model: A100-80GB, on_demand: 1}\n")
            token = make_token(engine, "Operator", "operator", "admin", Role.ADMIN)
            client.headers["Authorization"] = f"Bearer {token}"
            lease = client.post(
                "/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}
            ).json()
            backend = SlurmBackend(settings.slurm_namespace)
            root = Path(workdir) / "jobs"
            through: list[float] = []
            ids = []
            for _ in range(JOBS):
                began = time.perf_counter()
                job = client.post(
                    f"/v1/leases/{lease['id']}/jobs", json={"command": ["sleep", "30"], "gpus": 1}
                ).json()
                report = JobsReport()
                start_queued(
                    session, {"slurm": backend}, root, datetime.now(UTC), report, SandboxPolicy()
                )
                through.append(time.perf_counter() - began)
                ids.append(job["id"])
            direct: list[float] = []
            refs = []
            for n in range(JOBS):
                began = time.perf_counter()
                out = subprocess.run(
                    ["sbatch", "--parsable", f"--job-name=direct-{n}", "--gres=gpu:1",
                     "--output=/dev/null", "--wrap", "sleep 30"],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                direct.append(time.perf_counter() - began)
                refs.append(out.strip().split(";")[0])
            api_poll, squeue_poll = [], []
            for n in range(POLLS):
                began = time.perf_counter()
                client.get(f"/v1/jobs/{ids[n % len(ids)]}")
                api_poll.append(time.perf_counter() - began)
                began = time.perf_counter()
                subprocess.run(["squeue", "-h", "-j", refs[n % len(refs)], "-o", "%T"],
                               capture_output=True, check=True)  # fmt: skip
                squeue_poll.append(time.perf_counter() - began)
            began = time.perf_counter()
            run_jobs(session, {"slurm": backend}, root, datetime.now(UTC), timedelta(seconds=5))
            worker_round = time.perf_counter() - began
            client.post(f"/v1/leases/{lease['id']}/release")
            run_jobs(session, {"slurm": backend}, root, datetime.now(UTC), timedelta(seconds=0))
            subprocess.run(["scancel", *refs], check=False)
        engine.dispose()
    return {
        "submit_gpurent_ms": _mean_ms(through),
        "submit_sbatch_ms": _mean_ms(direct),
        "poll_api_ms": _mean_ms(api_poll),
        "poll_squeue_ms": _mean_ms(squeue_poll),
        "worker_round_per_job_ms": worker_round * 1000 / JOBS,
    }


def report(r: dict[str, float]) -> None:
    print(
        f"submit: through gpurent (API + dispatch) {r['submit_gpurent_ms']:.1f} ms, sbatch "
        f"directly {r['submit_sbatch_ms']:.1f} ms: overhead ratio "
        f"{r['submit_gpurent_ms'] / r['submit_sbatch_ms']:.2f}x"
    )
    print(
        f"status: GET /v1/jobs/{{id}} {r['poll_api_ms']:.2f} ms, "
        f"squeue -j {r['poll_squeue_ms']:.2f} ms: ratio "
        f"{r['poll_api_ms'] / r['poll_squeue_ms']:.2f}x; the worker's poll of a running job "
        f"(squeue) {r['worker_round_per_job_ms']:.1f} ms per job"
    )


def main() -> None:
    if not available():
        raise SystemExit("no Slurm cluster answers scontrol ping: start the test cluster")
    report(run())


if __name__ == "__main__":
    main()
