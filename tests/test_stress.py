"""No GPU is ever sold twice: concurrent processes book, extend and cancel over HTTP.

Eight client processes hammer one server with random requests; afterwards the database
must hold no two overlapping live allocations of one GPU, and every lease that a client
was told exists must exist. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import random
import subprocess
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from gpurent.db.engine import make_engine, make_session_factory
from gpurent.leases.models import Allocation, Lease
from tests.builders import priced_fleet, write
from tests.servers import admin_token, auth, environment, servers
from tests.test_cli import GPURENT
from tests.test_serve import server_env  # noqa: F401  (fixture: a fresh database)

CLIENTS = 8
OPERATIONS = 60


def client_run(base: str, seed: int, token: str) -> dict[str, Any]:
    """One client: random creates, extensions, shortenings and cancellations."""
    rng = random.Random(seed)
    acknowledged: list[int] = []
    statuses: dict[str, int] = defaultdict(int)
    with httpx.Client(base_url=base, timeout=60, headers=auth(token)) as http:
        for step in range(OPERATIONS):
            mine = acknowledged[-10:]
            roll = rng.random()
            if roll < 0.6 or not mine:
                minutes = rng.choice([0, 5, 60, 600, 1440, 2880, 4320])
                start = datetime.now(UTC) + timedelta(minutes=minutes)
                body = {
                    "gpu_model": "A100-80GB",
                    "gpus": rng.choice([1, 2, 4, 8, 8, 16]),
                    "start": start.isoformat(),
                    "hours": rng.choice([1, 2, 5]),
                    "term": rng.choice(["on_demand", "on_demand", "interruptible"]),
                }
                key = f"c{seed}-{step}"
                response = http.post("/v1/leases", json=body, headers={"Idempotency-Key": key})
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
            elif roll < 0.8:
                action = rng.choice(["extend", "shorten"])
                response = http.post(
                    f"/v1/leases/{rng.choice(mine)}/{action}", json={"hours": rng.choice([1, 3])}
                )
            else:
                response = http.post(f"/v1/leases/{rng.choice(mine)}/cancel")
            statuses[str(response.status_code)] += 1
    return {"acknowledged": acknowledged, "statuses": dict(statuses)}


def overlaps(rows: list[tuple[int, datetime, datetime]]) -> list[str]:
    by_gpu: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for gpu_id, start, end in rows:
        by_gpu[gpu_id].append((start, end))
    found = []
    for gpu_id, intervals in by_gpu.items():
        intervals.sort()
        for (_, end), (next_start, _) in itertools.pairwise(intervals):
            if next_start < end:
                found.append(f"GPU {gpu_id}: {next_start} < {end}")
    return found


class TestOverlapCheck:
    def test_finds_an_overlap(self) -> None:
        t = datetime(2030, 1, 1, tzinfo=UTC)
        hour = timedelta(hours=1)
        assert overlaps([(1, t, t + hour), (1, t + hour, t + 2 * hour)]) == []
        assert len(overlaps([(1, t, t + 2 * hour), (1, t + hour, t + 3 * hour)])) == 1


class TestNoDoubleBooking:
    def test_eight_processes(self, server_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
        url = server_env.get("GPURENT_DATABASE_URL") or f"sqlite:///{tmp_path}/stress.db"
        env = environment(url, tmp_path / "data")
        token = admin_token(env)
        fleet = write(tmp_path / "fleet.yaml", priced_fleet(nodes=4, domains=2))
        subprocess.run([GPURENT, "fleet", "import", str(fleet)], env=env, check=True)

        with servers(1, env, tmp_path) as (base,):
            context = multiprocessing.get_context("spawn")
            with context.Pool(CLIENTS) as pool:
                results = pool.starmap(client_run, [(base, seed, token) for seed in range(CLIENTS)])

        statuses: dict[str, int] = defaultdict(int)
        for result in results:
            for code, count in result["statuses"].items():
                statuses[code] += count
        (tmp_path / "statuses.json").write_text(json.dumps(statuses))
        assert not [code for code in statuses if code.startswith("5")], statuses
        assert statuses["201"] >= 20, statuses  # enough bookings happened to prove anything
        assert statuses["200"] >= 10, statuses  # and enough changes

        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session:
                rows = session.execute(
                    select(Allocation.gpu_id, Allocation.starts_at, Allocation.ends_at).where(
                        Allocation.live, Allocation.ends_at > Allocation.starts_at
                    )
                ).all()
                existing = set(session.scalars(select(Lease.id)))
        finally:
            engine.dispose()
        assert overlaps([tuple(row) for row in rows]) == []
        acknowledged = {lease_id for r in results for lease_id in r["acknowledged"]}
        assert acknowledged <= existing
