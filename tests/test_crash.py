"""kill -9 of every server process while eight clients book: nothing acknowledged is lost.

The demo server (two processes and the worker) serves eight client processes, renters
through the compliance gate and the administrator, each booking under its own
Idempotency-Keys and retrying a key until it gets an answer. Twice during the run every
server process gets SIGKILL, and a new server starts on the same port. Afterwards each
acknowledged lease exists, every lease booked is one that was acknowledged (a retry
never booked a key twice), and no GPU is held twice at once. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from gpurent.db.engine import make_engine, make_session_factory
from gpurent.leases.models import Allocation, Lease
from tests.servers import auth, free_port, wait_healthy
from tests.test_cli import GPURENT
from tests.test_serve import server_env  # noqa: F401  (fixture: a fresh database)
from tests.test_stress import overlaps

CLIENTS = 8
BOOKINGS = 25  # per client
KILLS = 2
GIVE_UP_SECONDS = 120  # a client that still has no answer for a key by then fails


def book_until_answered(
    http: httpx.Client, body: dict[str, Any], key: str, deadline: float, statuses: Counter[str]
) -> httpx.Response | None:
    """POST the booking, again under the same key after a reset, timeout or 5xx."""
    while time.monotonic() < deadline:
        try:
            response = http.post("/v1/leases", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            statuses["retried"] += 1
            time.sleep(0.1)  # the server is down: wait for the next one
            continue
        if response.status_code < 500:
            return response
        statuses["retried after 5xx"] += 1
        time.sleep(0.1)
    return None


def client_run(base: str, seed: int, token: str) -> dict[str, Any]:
    """One client: BOOKINGS bookings at random times in the next weeks."""
    rng = random.Random(seed)
    acknowledged: dict[str, int] = {}
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + GIVE_UP_SECONDS
    with httpx.Client(base_url=base, timeout=10, headers=auth(token)) as http:
        for step in range(BOOKINGS):
            start = datetime.now(UTC) + timedelta(hours=rng.randint(1, 24 * 21))
            body = {
                "gpu_model": "A100-80GB",
                "gpus": rng.choice([1, 1, 2, 4]),
                "start": start.isoformat(),
                "hours": rng.choice([1, 2, 6]),
            }
            key = f"crash-{seed}-{step}"
            response = book_until_answered(http, body, key, deadline, statuses)
            if response is None:
                statuses["no answer"] += 1
                continue
            statuses[str(response.status_code)] += 1
            if response.status_code == 201:
                acknowledged[key] = int(response.json()["id"])
    return {"acknowledged": acknowledged, "statuses": dict(statuses)}


class ServerGroup:
    """``gpurent serve --demo --processes 2``, each start in a process group of its own,
    so that one SIGKILL reaches the supervisor and all its workers."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [GPURENT, "serve", "--demo", "--processes", "2", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_healthy(self.base, self.proc, self.log)

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.proc = None


@contextmanager
def server_group(env: dict[str, str], port: int, log: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(env, port, log)
    try:
        group.start()
        yield group
    finally:
        group.kill()


def wait_for_bookings(base: str, token: str, at_least: int, timeout: float = 60) -> None:
    """Until the server has acknowledged ``at_least`` leases in all (so a kill hits work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base}/v1/leases?limit=1", headers=auth(token), timeout=5)
            if int(response.headers.get("X-Total-Count", 0)) >= at_least:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} leases after {timeout} s")


def newest_lease_id(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.max(Lease.id))) or 0
    finally:
        engine.dispose()


class TestKillNine:
    def test_every_acknowledged_lease_survives(
        self,
        server_env: dict[str, str],  # noqa: F811
        tmp_path: Path,
    ) -> None:
        env = server_env
        data_dir = Path(env["GPURENT_DATA_DIR"])
        port = free_port()
        database_url = env.get("GPURENT_DATABASE_URL") or f"sqlite:///{data_dir}/gpurent.db"
        with server_group(env, port, tmp_path / "server.log") as server:
            admin = (data_dir / "demo-token").read_text().strip()
            renters = json.loads((data_dir / "demo-tokens.json").read_text())
            tokens = [renters["Lakeside University"], renters["Nordlicht Robotics GmbH"], admin]
            arguments = [(server.base, seed, tokens[seed % len(tokens)]) for seed in range(CLIENTS)]
            before = newest_lease_id(database_url)
            with multiprocessing.get_context("spawn").Pool(CLIENTS) as pool:
                jobs = pool.starmap_async(client_run, arguments)
                for kill in range(KILLS):
                    wait_for_bookings(server.base, admin, at_least=(kill + 1) * 20)
                    server.kill()
                    server.start()
                results = jobs.get(timeout=GIVE_UP_SECONDS + 30)

        statuses: Counter[str] = Counter()
        acknowledged: dict[str, int] = {}
        for result in results:
            statuses.update(result["statuses"])
            acknowledged.update(result["acknowledged"])
        (tmp_path / "statuses.json").write_text(json.dumps(statuses))
        assert statuses["no answer"] == 0, statuses
        assert len(acknowledged) >= 60, statuses  # enough bookings to prove anything
        assert statuses["retried"] >= 1, statuses  # the kills hit clients mid-booking
        assert set(statuses) <= {"201", "409", "retried", "retried after 5xx"}, statuses

        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session:
                # The demo's own leases came first; every later one is a client's booking.
                created = set(session.scalars(select(Lease.id).where(Lease.id > before)))
                twice = session.execute(
                    select(Lease.idempotency_key)
                    .where(Lease.idempotency_key.is_not(None))
                    .group_by(Lease.idempotency_key)
                    .having(func.count() > 1)
                ).all()
                rows = session.execute(
                    select(Allocation.gpu_id, Allocation.starts_at, Allocation.ends_at).where(
                        Allocation.live, Allocation.ends_at > Allocation.starts_at
                    )
                ).all()
        finally:
            engine.dispose()
        ids = sorted(acknowledged.values())
        assert len(set(ids)) == len(ids)  # no two keys were answered with one lease
        assert set(ids) - created == set()  # every acknowledged lease exists
        assert created - set(ids) == set()  # and no retry booked a second one
        assert twice == []
        assert overlaps([tuple(row) for row in rows]) == []
