"""Lease creation through HTTP with 8 concurrent clients, on SQLite and PostgreSQL: a
renter's bookings (through the whole compliance gate) beside an administrator's (the
operator's own use: no gate), in the same run against the same server.

The baseline, run against the same server in the same run, is the rate at which the
same clients get answers to ``GET /healthz``: the cost of HTTP and the server itself.
Eight clients, each on its own keep-alive connection (renewed every 20 requests), wait
for each answer before asking again.
Afterwards the database must hold no overlapping live allocations.
"""

from __future__ import annotations

import asyncio
import json
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
from tests.builders import priced_fleet, write
from tests.servers import admin_token, environment, servers
from tests.test_cli import GPURENT
from tests.test_stress import overlaps

from gpurent.db.engine import make_engine, make_session_factory
from gpurent.leases.models import Allocation, Lease

CLIENTS = 8
SECONDS = 8.0
WARM_UP = 2.0  # prepared statements and caches settle before the clock runs
RECONNECT_EVERY = 20


async def _connection(
    host: str, port: int, path: str, seed: int, deadline: float, token: str
) -> tuple[int, int, set[int]]:
    """One client on a keep-alive connection: a lean HTTP/1.1 loop, so that the server,
    not the load generator, gets the machine's two cores. The connection is renewed every
    RECONNECT_EVERY requests, as pools do: the kernel hands each new connection to one of
    the server's processes, and eight connections kept for the whole run can land on one
    process and leave the other idle."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    ok = failed = 0
    created: set[int] = set()
    try:
        while time.time() < deadline:
            if (ok + failed) % RECONNECT_EVERY == RECONNECT_EVERY - 1:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            if path == "/healthz":
                request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            else:
                start = datetime.now(UTC) + timedelta(hours=rng.uniform(0, 24 * 60))
                body = json.dumps(
                    {
                        "gpu_model": "A100-80GB",
                        "gpus": rng.choice((1, 1, 2)),
                        "start": start.isoformat(),
                        "hours": rng.choice((1, 2, 4)),
                    }
                ).encode()
                request = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            payload = await reader.readexactly(length)
            if status in (200, 201):
                ok += 1
                if status == 201:
                    created.add(json.loads(payload)["id"])
            else:
                failed += 1
    finally:
        writer.close()
    return ok, failed, created


async def _clients(
    host: str, port: int, path: str, deadline: float, token: str
) -> list[tuple[int, int, set[int]]]:
    return await asyncio.gather(
        *(_connection(host, port, path, n, deadline, token) for n in range(CLIENTS))
    )


def _hammer(
    base: str, path: str, token: str, seconds: float = SECONDS
) -> tuple[float, int, set[int]]:
    url = httpx.URL(base)
    began = time.time()
    results = asyncio.run(_clients(url.host, url.port or 80, path, began + seconds, token))
    elapsed = time.time() - began
    created = set().union(*(c for _, _, c in results))
    return sum(ok for ok, _, _ in results) / elapsed, sum(f for _, f, _ in results), created


def _drop_postgres(admin_url: str, url: str) -> None:
    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


def _fresh_postgres(admin_url: str) -> str | None:
    name = f"gpurent_bench_{int(time.time())}"
    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError:
        return None
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def renter_token(env: dict[str, str]) -> str:
    """A customer whose record the policy allows A100s (the bundled list excerpt in force),
    and its renter's token: its bookings pass the whole compliance gate."""
    run = {"env": env, "check": True, "capture_output": True, "text": True}
    dossier = Path(__file__).parent.parent / "tests" / "fixtures" / "dossiers" / "university.json"
    for args in (
        ["lists", "import", "--bundled"],
        ["org", "create", "university", "--country", "SG"],
        ["org", "dossier", "university", str(dossier)],
    ):
        subprocess.run([GPURENT, *args], **run)  # type: ignore[call-overload]
    made = subprocess.run(  # type: ignore[call-overload]
        [GPURENT, "token", "create", "--org", "university", "--user", "r", "--role", "renter"],
        **run,
    )
    return str(made.stdout).strip()


def run_on(database_url: str, workdir: Path) -> dict[str, float]:
    env = environment(database_url, workdir / "data")
    fleet = write(workdir / "fleet.yaml", priced_fleet(nodes=64, domains=4))
    subprocess.run(
        [GPURENT, "fleet", "import", str(fleet)], env=env, check=True, capture_output=True
    )
    token = admin_token(env)
    renter = renter_token(env)
    with servers(1, env, workdir, extra_args=("--no-worker", "--processes", "2")) as (base,):
        _hammer(base, "/healthz", token, WARM_UP)
        health_rate, _, _ = _hammer(base, "/healthz", token)
        _, _, warm_up_created = _hammer(base, "/v1/leases", token, WARM_UP)
        lease_rate, refused, created = _hammer(base, "/v1/leases", token)
        _, _, warm_up_gated = _hammer(base, "/v1/leases", renter, WARM_UP)
        gated_rate, gated_refused, gated = _hammer(base, "/v1/leases", renter)
        created |= warm_up_created | warm_up_gated | gated
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(Allocation.gpu_id, Allocation.starts_at, Allocation.ends_at).where(
                Allocation.live
            )
        ).all()
        stored = set(session.scalars(select(Lease.id)))
    engine.dispose()
    return {
        "gated_leases_per_s": gated_rate,
        "gated_refused": gated_refused,
        "gated_to_ungated": gated_rate / lease_rate,
        "leases_per_s": lease_rate,
        "healthz_per_s": health_rate,
        "ratio_to_healthz": lease_rate / health_rate,
        "refused": refused,
        "overlaps": len(overlaps([tuple(r) for r in rows])),
        "acknowledged_missing": len(created - stored),
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
            try:
                results["postgresql"] = run_on(url, pg_dir)
            finally:
                _drop_postgres(postgres_admin_url, url)
    return results


if __name__ == "__main__":  # python -m bench.booking: this part alone
    import os

    admin = os.environ.get(
        "GPURENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test"
    )
    for database, figures in run(admin).items():
        print(database, {k: round(v, 2) for k, v in figures.items()})
