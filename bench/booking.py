"""Lease creation through HTTP with 8 concurrent clients, on SQLite and PostgreSQL.

The baseline, run against the same server in the same run, is the rate at which the
same clients get answers to ``GET /healthz``: the cost of HTTP and the server itself.
Afterwards the database must hold no overlapping live allocations.
"""

from __future__ import annotations

import multiprocessing
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from gpurent.db.engine import make_engine, make_session_factory
from gpurent.leases.models import Allocation
from tests.builders import priced_fleet, write
from tests.servers import environment, servers
from tests.test_cli import GPURENT
from tests.test_stress import overlaps

CLIENTS = 8
SECONDS = 8.0


def _client(base: str, seed: int, path: str, deadline: float) -> tuple[int, int]:
    rng = random.Random(seed)
    ok = failed = 0
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.time() < deadline:
            if path == "/healthz":
                response = http.get(path)
            else:
                start = datetime.now(UTC) + timedelta(hours=rng.uniform(0, 24 * 60))
                body = {
                    "gpu_model": "A100-80GB",
                    "gpus": rng.choice((1, 1, 2)),
                    "start": start.isoformat(),
                    "hours": rng.choice((1, 2, 4)),
                }
                response = http.post(path, json=body)
            if response.status_code in (200, 201):
                ok += 1
            else:
                failed += 1
    return ok, failed


def _hammer(base: str, path: str) -> tuple[float, int]:
    deadline = time.time() + SECONDS + 1.0  # the second of spawning is left out below
    context = multiprocessing.get_context("spawn")
    with context.Pool(CLIENTS) as pool:
        results = pool.starmap(_client, [(base, n, path, deadline) for n in range(CLIENTS)])
    done = sum(ok for ok, _ in results)
    return done / SECONDS, sum(failed for _, failed in results)


def _fresh_postgres(admin_url: str) -> str | None:
    name = f"gpurent_bench_{int(time.time())}"
    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError:
        return None
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run_on(database_url: str, workdir: Path) -> dict[str, float]:
    env = environment(database_url, workdir / "data")
    fleet = write(workdir / "fleet.yaml", priced_fleet(nodes=64, domains=4))
    subprocess.run([GPURENT, "fleet", "import", str(fleet)], env=env, check=True, capture_output=True)
    with servers(1, env, workdir, extra_args=("--no-worker", "--processes", "2")) as (base,):
        health_rate, _ = _hammer(base, "/healthz")
        lease_rate, refused = _hammer(base, "/v1/leases")
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(Allocation.gpu_id, Allocation.starts_at, Allocation.ends_at).where(
                Allocation.live
            )
        ).all()
    engine.dispose()
    return {
        "leases_per_s": lease_rate,
        "healthz_per_s": health_rate,
        "ratio_to_healthz": lease_rate / health_rate,
        "refused": refused,
        "overlaps": len(overlaps([tuple(r) for r in rows])),
    }


def run(postgres_admin_url: str) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        sqlite_dir = Path(scratch) / "sqlite"
        sqlite_dir.mkdir()
        results["sqlite"] = run_on(f"sqlite:///{sqlite_dir}/bench.db", sqlite_dir)
        url = _fresh_postgres(postgres_admin_url)
        if url is not None:
            pg_dir = Path(scratch) / "postgresql"
            pg_dir.mkdir()
            results["postgresql"] = run_on(url, pg_dir)
    return results
